/* SPDX-License-Identifier: ISC */
/*
 * util/notify.c - sd_notify(3) messages for systemd's Type=notify. See
 * notify.h.
 */
#include "util/notify.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#define NOTIFY_STATUS_MAX 200 /* bytes of STATUS= text sent */

void
notify_ready(const char *status)
{
	(void)sd_notifyf(0, "READY=1\nMAINPID=%ld\nSTATUS=%.*s", (long)getpid(),
	    NOTIFY_STATUS_MAX, status != NULL ? status : "");
}

void
notify_reloading(void)
{
	struct timespec ts;

	/* systemd 253's Type=notify-reload wants the time; 252 ignores it. */
	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		ts.tv_sec = ts.tv_nsec = 0;
	(void)sd_notifyf(0,
	    "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	        (unsigned long long)ts.tv_nsec / 1000ULL);
}

void
notify_reloaded(const char *status)
{
	(void)sd_notifyf(0, "READY=1\nSTATUS=%.*s", NOTIFY_STATUS_MAX,
	    status != NULL ? status : "");
}

void
notify_stopping(void)
{
	(void)sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}
