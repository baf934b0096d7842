/* SPDX-License-Identifier: GPL-2.0-or-later */
/* view.c - verified view (being written). */
#include "config.h"

#include "bmap.h"
