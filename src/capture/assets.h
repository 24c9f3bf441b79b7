/* SPDX-License-Identifier: ISC */
/*
 * capture/assets.h - the capture page's files (src/capture/page/),
 * compiled into the binary by src/obs/dashboard/embed.py --name capture
 * at build time, like the dashboard's (obs/assets.h).
 */
#ifndef TERN_CAPTURE_ASSETS_H
#define TERN_CAPTURE_ASSETS_H

#include <stddef.h>

#include "obs/assets.h"

/* Every file of src/capture/page/ but meson.build. */
extern const struct obs_asset capture_assets[];
extern const size_t capture_nassets;

#endif
