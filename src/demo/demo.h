/*
 * The demo data set that `make run` loads into an empty database: a few movies, two theatres
 * in two cities, halls with realistic layouts (one with 330 seats) and shows over the next
 * days, plus demo accounts. It goes through the same store functions as the API.
 */
#ifndef TIX_DEMO_DEMO_H
#define TIX_DEMO_DEMO_H

#include "core/config.h"
#include "store/db.h"

/* Loads the demo set if the database has no movies yet. OUT: *loaded whether it did.
 * Runs in one transaction: all or nothing. */
TIX_MUSTCHECK tix_rc tix_demo_load(tix_db *db, const tix_config *cfg, bool *loaded);

#endif
