/* SPDX-License-Identifier: ISC */
/*
 * conf/keys.c - the one table of numeric settings: each key's section,
 * unit, default, minimum and maximum (Postfix's bounds idea). conf.c
 * reads them, print.c prints them, and every default lives here.
 * Trust: internal.
 */
#include "conf/conf-private.h"

#include <stddef.h>

#define OFF(m) offsetof(struct conf, m)

/* The one table of numeric keys: default, minimum, maximum. */
const struct num_key conf_keys[] = {
	{ S_TOP, "threads", N_COUNT, T_UINT, OFF(threads), 0, 0, 1024 },
	{ S_LIMITS, "max_message_size", N_SIZE, T_U64,
	    OFF(limits.max_message_size), 35 * MiB, 1 * KiB, 2 * GiB },
	{ S_LIMITS, "max_recipients", N_COUNT, T_SIZE,
	    OFF(limits.max_recipients), 100, 1, 100000 },
	{ S_LIMITS, "max_errors", N_COUNT, T_SIZE, OFF(limits.max_errors), 10,
	    1, 1000 },
	{ S_LIMITS, "max_connections", N_COUNT, T_SIZE,
	    OFF(limits.max_connections), 1000, 1, 1000000 },
	{ S_LIMITS, "max_connections_per_ip", N_COUNT, T_SIZE,
	    OFF(limits.max_connections_per_ip), 50, 1, 1000000 },
	/* The operator's own clients (issue 14): a web application on the
	 * same host may well hold hundreds of sessions. */
	{ S_LIMITS, "own_max_connections_per_ip", N_COUNT, T_SIZE,
	    OFF(limits.own_max_connections_per_ip), 1000, 1, 1000000 },
	/* RFC 5321 6.3: loop detection by counting Received, 100 is usual. */
	{ S_LIMITS, "max_received", N_COUNT, T_SIZE, OFF(limits.max_received),
	    100, 1, 1000 },
	/* RFC 5321 4.5.3.2.7: at least 5 minutes; tests need shorter. */
	{ S_LIMITS, "timeout_command", N_DURATION, T_UINT,
	    OFF(limits.timeout_command), 300, 1, HOUR },
	{ S_LIMITS, "greet_delay", N_DURATION, T_UINT, OFF(limits.greet_delay),
	    0, 0, 30 },
	{ S_LIMITS, "timeout_data_block", N_DURATION, T_UINT,
	    OFF(limits.timeout_data_block), 180, 1, HOUR },
	{ S_LIMITS, "timeout_data_total", N_DURATION, T_UINT,
	    OFF(limits.timeout_data_total), 600, 1, DAY },
	/* Brute-force brakes on AUTH (issue 3); 0s delay is for tests. */
	{ S_LIMITS, "auth_max_failures", N_COUNT, T_SIZE,
	    OFF(limits.auth_max_failures), 5, 1, 1000 },
	{ S_LIMITS, "auth_lockout", N_DURATION, T_UINT,
	    OFF(limits.auth_lockout), 15 * MINUTE, 1, DAY },
	{ S_LIMITS, "auth_fail_delay", N_DURATION, T_UINT,
	    OFF(limits.auth_fail_delay), 1, 0, MINUTE },
	/* Issue 14: an IPv6 client is counted by its network; one host
	 * usually holds a /64, some a /56 or /48 (RFC 6177). */
	{ S_LIMITS, "auth_ipv6_prefix", N_COUNT, T_UINT,
	    OFF(limits.auth_ipv6_prefix), 64, 32, 128 },
	/* Token-bucket rates (issue 3); 0 turns one off. Per client IP
	 * they are off by default, as big senders share few addresses. */
	{ S_LIMITS, "ip_connections_per_minute", N_COUNT, T_SIZE,
	    OFF(limits.ip_connections_per_minute), 0, 0, 1000000 },
	{ S_LIMITS, "ip_messages_per_minute", N_COUNT, T_SIZE,
	    OFF(limits.ip_messages_per_minute), 0, 0, 1000000 },
	{ S_LIMITS, "own_ip_connections_per_minute", N_COUNT, T_SIZE,
	    OFF(limits.own_ip_connections_per_minute), 0, 0, 1000000 },
	{ S_LIMITS, "own_ip_messages_per_minute", N_COUNT, T_SIZE,
	    OFF(limits.own_ip_messages_per_minute), 0, 0, 1000000 },
	{ S_LIMITS, "user_messages_per_hour", N_COUNT, T_SIZE,
	    OFF(limits.user_messages_per_hour), 500, 0, 1000000 },
	{ S_LIMITS, "user_recipients_per_hour", N_COUNT, T_SIZE,
	    OFF(limits.user_recipients_per_hour), 2000, 0, 1000000 },
	{ S_QUEUE, "retry_initial", N_DURATION, T_UINT,
	    OFF(queue.retry_initial), 300, 1, DAY },
	{ S_QUEUE, "retry_max", N_DURATION, T_UINT, OFF(queue.retry_max),
	    4 * HOUR, 1, 7 * DAY },
	/* RFC 5321 4.5.4.1: give up after at least 4-5 days. */
	{ S_QUEUE, "lifetime", N_DURATION, T_UINT, OFF(queue.lifetime), 5 * DAY,
	    1, 30 * DAY },
	{ S_QUEUE, "delivery_threads", N_COUNT, T_UINT,
	    OFF(queue.delivery_threads), 64, 1, 256 },
	/* Outbound (issue 4). */
	{ S_QUEUE, "delay_warning", N_DURATION, T_UINT,
	    OFF(queue.delay_warning), 4 * HOUR, 0, 30 * DAY },
	{ S_QUEUE, "connect_timeout", N_DURATION, T_UINT,
	    OFF(queue.connect_timeout), 30, 1, 10 * MINUTE },
	/* 0: the RFC 5321 4.5.3.2 timeouts; tests set a few seconds. */
	{ S_QUEUE, "remote_timeout", N_DURATION, T_UINT,
	    OFF(queue.remote_timeout), 0, 0, HOUR },
	{ S_QUEUE, "destination_concurrency", N_COUNT, T_UINT,
	    OFF(queue.destination_concurrency), 20, 1, 1000 },
	/* Recipient verification for [relay_domains] (issue 14). Postfix
	 * keeps answers 31 days and refusals 3 days; a week and three hours
	 * let a new or removed mailbox show sooner. */
	{ S_QUEUE, "verify_positive_ttl", N_DURATION, T_UINT,
	    OFF(queue.verify_positive_ttl), 7 * DAY, 1, 60 * DAY },
	{ S_QUEUE, "verify_negative_ttl", N_DURATION, T_UINT,
	    OFF(queue.verify_negative_ttl), 3 * HOUR, 1, 30 * DAY },
	/* Each wait of a probe: a client holds its RCPT meanwhile. */
	{ S_QUEUE, "verify_timeout", N_DURATION, T_UINT,
	    OFF(queue.verify_timeout), 30, 1, 5 * MINUTE },
	/* Issue 16: DKIM signatures verified per message (RFC 6376 6.1:
	 * a verifier may limit them; more is a cost a sender imposes). */
	{ S_AUTH, "dkim_max_signatures", N_COUNT, T_SIZE,
	    OFF(auth.dkim_max_signatures), 5, 1, 50 },
	/* Issue 17: the journal rotates at this size, one old file kept. */
	{ S_OBS, "journal_max_size", N_SIZE, T_U64,
	    OFF(obs.journal_max_size), 64 * MiB, 1 * MiB, 16 * GiB },
	{ S_OBS, "webhook_backlog", N_COUNT, T_SIZE,
	    OFF(obs.webhook_backlog), 100000, 100, 10000000 },
};

const size_t conf_nkeys = sizeof(conf_keys) / sizeof(conf_keys[0]);

_Static_assert(sizeof(conf_keys) / sizeof(conf_keys[0]) <= CONF_NUM_KEYS_MAX,
    "raise CONF_NUM_KEYS_MAX: struct parse keeps a line per key");

static const char *const limit_actions[] = { "hold", "defer", NULL };
static const char *const held_actions[] = { "bounce", "keep", NULL };
static const char *const onoff[] = { "on", "off", NULL };
static const char *const spf_fail[] = { "note", "reject", NULL };
static const char *const temperror[] = { "accept", "defer", NULL };
static const char *const dmarc_policy[] = { "follow", "quarantine", "note",
	NULL };
static const char *const key_error[] = { "unsigned", "defer", NULL };

/* The word settings; each enum's values follow its words' order. */
const struct word_key conf_word_keys[] = {
	{ S_LIMITS, "user_limit_action", OFF(limits.user_limit_action),
	    limit_actions },
	/* Issue 15: a held message expires with the queue lifetime. */
	{ S_QUEUE, "held_action", OFF(queue.held_action), held_actions },
	/* Issue 16: what the checks on mail from outside do. */
	{ S_AUTH, "checks", OFF(auth.checks), onoff },
	{ S_AUTH, "spf_fail", OFF(auth.spf_fail), spf_fail },
	{ S_AUTH, "spf_temperror", OFF(auth.spf_temperror), temperror },
	{ S_AUTH, "dmarc_policy", OFF(auth.dmarc_policy), dmarc_policy },
	{ S_AUTH, "dmarc_temperror", OFF(auth.dmarc_temperror), temperror },
	{ S_AUTH, "dkim_key_error", OFF(auth.dkim_key_error), key_error },
	/* Issue 17. */
	{ S_OBS, "journal", OFF(obs.journal), onoff },
	{ S_OBS, "events_socket", OFF(obs.events_socket), onoff },
	/* Issue 19. */
	{ S_OUTTLS, "dane", OFF(outtls.dane), onoff },
	{ S_OUTTLS, "mta_sts", OFF(outtls.mta_sts), onoff },
	{ S_OUTTLS, "tlsrpt", OFF(outtls.tlsrpt), onoff },
	{ S_OUTTLS, "requiretls", OFF(outtls.requiretls), onoff },
};

const size_t conf_nword_keys =
    sizeof(conf_word_keys) / sizeof(conf_word_keys[0]);

_Static_assert(sizeof(conf_word_keys) / sizeof(conf_word_keys[0]) <=
        CONF_WORD_KEYS_MAX,
    "raise CONF_WORD_KEYS_MAX: struct parse keeps a line per key");
