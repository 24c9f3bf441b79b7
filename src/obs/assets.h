/* SPDX-License-Identifier: ISC */
/*
 * obs/assets.h - the dashboard's files, compiled into the binary by
 * src/obs/dashboard/embed.py at build time (no files to install, no
 * path to get wrong, nothing a request can name outside the list).
 */
#ifndef TERN_OBS_ASSETS_H
#define TERN_OBS_ASSETS_H

#include <stddef.h>

struct obs_asset {
	const char *name; /* "index.html", the file's name */
	const unsigned char *data;
	size_t len;
};

/* The Content-Type of a compiled-in file, by its name's extension
 * (.html .js .css .png .svg; else application/octet-stream). Shared by
 * the dashboard and `tern capture`'s page (obs/assets.c). */
const char *obs_asset_type(const char *name);

/* Every file of src/obs/dashboard/, in the order meson gave them. */
extern const struct obs_asset obs_assets[];
extern const size_t obs_nassets;

#endif
