/* SPDX-License-Identifier: ISC */
/* tern capture page script: placeholder (issue 22). */
