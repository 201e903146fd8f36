/* The demo data set; see demo.h. Everything is relative to the current time so the shows are
 * always in the future when the demo starts. */
#include "demo/demo.h"

#include "auth/session.h"
#include "catalog/layout.h"
#include "catalog/show_time.h"
#include "core/log.h"
#include "core/util.h"
#include "store/catalog.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define DAY_MS (86400LL * 1000)

typedef struct demo_movie {
    const char *title;
    const char *description;
    int minutes;
    int release_offset_days; /* from today; positive = upcoming */
    const char *languages;
    const char *genres;
    const char *certificate;
} demo_movie;

static const demo_movie movies[] = {
    {"Monsoon Express", "A night train, a stolen diary and a detective on leave.", 142, -20,
     "[\"hindi\",\"english\"]", "[\"thriller\",\"mystery\"]", "UA"},
    {"The Last Orbit", "Two engineers race to bring a failing station home.", 128, -5,
     "[\"english\"]", "[\"sci-fi\",\"drama\"]", "UA"},
    {"Kaveri Nights", "Three friends, one summer, and a river that remembers.", 155, -40,
     "[\"kannada\",\"tamil\"]", "[\"drama\",\"romance\"]", "U"},
    {"Iron Monsoon 2", "The sequel nobody in Mumbai will stop talking about.", 166, 21,
     "[\"hindi\"]", "[\"action\"]", "A"},
};

/* A 330-seat hall: 15 rows x 22 seats, aisles after seats 6 and 16, recliners at the back. */
static const char big_hall[] =
    "{\"rows\":["
    "{\"label\":\"A\",\"seats\":22,\"category\":\"standard\",\"gaps_after\":[6,16]},"
    "{\"label\":\"B\",\"seats\":22,\"category\":\"standard\",\"gaps_after\":[6,16]},"
    "{\"label\":\"C\",\"seats\":22,\"category\":\"standard\",\"gaps_after\":[6,16]},"
    "{\"label\":\"D\",\"seats\":22,\"category\":\"standard\",\"gaps_after\":[6,16]},"
    "{\"label\":\"E\",\"seats\":22,\"category\":\"standard\",\"gaps_after\":[6,16]},"
    "{\"label\":\"F\",\"seats\":22,\"category\":\"premium\",\"gaps_after\":[6,16]},"
    "{\"label\":\"G\",\"seats\":22,\"category\":\"premium\",\"gaps_after\":[6,16]},"
    "{\"label\":\"H\",\"seats\":22,\"category\":\"premium\",\"gaps_after\":[6,16],"
    "\"blocked\":[11,12]},"
    "{\"label\":\"J\",\"seats\":22,\"category\":\"premium\",\"gaps_after\":[6,16]},"
    "{\"label\":\"K\",\"seats\":22,\"category\":\"premium\",\"gaps_after\":[6,16]},"
    "{\"label\":\"L\",\"seats\":22,\"category\":\"premium\",\"gaps_after\":[6,16]},"
    "{\"label\":\"M\",\"seats\":22,\"category\":\"premium\",\"gaps_after\":[6,16]},"
    "{\"label\":\"N\",\"seats\":22,\"category\":\"recliner\",\"gaps_after\":[6,16]},"
    "{\"label\":\"O\",\"seats\":22,\"category\":\"recliner\",\"gaps_after\":[6,16]},"
    "{\"label\":\"P\",\"seats\":22,\"category\":\"recliner\",\"gaps_after\":[6,16]}]}";

static const char small_hall[] =
    "{\"rows\":["
    "{\"label\":\"A\",\"seats\":12,\"category\":\"standard\",\"gaps_after\":[6]},"
    "{\"label\":\"B\",\"seats\":12,\"category\":\"standard\",\"gaps_after\":[6]},"
    "{\"label\":\"C\",\"seats\":12,\"category\":\"standard\",\"gaps_after\":[6]},"
    "{\"label\":\"D\",\"seats\":12,\"category\":\"standard\",\"gaps_after\":[6]},"
    "{\"label\":\"E\",\"seats\":12,\"category\":\"premium\",\"gaps_after\":[6]},"
    "{\"label\":\"F\",\"seats\":12,\"category\":\"premium\",\"gaps_after\":[6]},"
    "{\"label\":\"G\",\"seats\":12,\"category\":\"premium\",\"gaps_after\":[6]},"
    "{\"label\":\"H\",\"seats\":10,\"category\":\"premium\",\"gaps_after\":[5],"
    "\"blocked\":[1,10]}]}";

static tix_rc add_user(tix_db *db, const char *email, const char *password, const char *name,
                       tix_role role, tix_user *u)
{
    tix_rc rc = tix_user_by_email(db, email, u);
    if (rc == TIX_ENOTFOUND) {
        rc = tix_account_create(db, email, password, name, role, u);
    }
    return rc;
}

static tix_rc add_movies(tix_db *db, tix_arena *a, int64_t now, char ids[][TIX_ID_MAX])
{
    tix_rc rc = TIX_OK;
    for (size_t i = 0; i < sizeof(movies) / sizeof(movies[0]) && rc == TIX_OK; i++) {
        const demo_movie *d = &movies[i];
        char date[11];
        tix_format_date(date, now + d->release_offset_days * DAY_MS);
        tix_id_new(ids[i], "mov");
        tix_movie m = {.id = ids[i],
                       .title = (char *)d->title,
                       .description = (char *)d->description,
                       .duration_minutes = d->minutes,
                       .release_date = tix_arena_strdup(a, date),
                       .languages = (char *)d->languages,
                       .genres = (char *)d->genres,
                       .certificate = (char *)d->certificate,
                       .status = "active",
                       .created_at = now,
                       .updated_at = now};
        rc = tix_movie_insert(db, &m);
    }
    return rc;
}

static tix_rc add_hall(tix_db *db, const char *theatre_id, const char *name, const char *layout,
                       char *id_out)
{
    json_t *j = json_loads(layout, 0, NULL);
    tix_layout l;
    tix_layout_error err;
    tix_rc rc = j ? tix_layout_build(j, &l, &err) : TIX_EINVAL;
    json_decref(j);
    if (rc != TIX_OK) {
        return rc;
    }
    json_t *canon = tix_layout_to_json(&l);
    char *text = json_dumps(canon, JSON_COMPACT);
    json_decref(canon);
    tix_id_new(id_out, "hal");
    tix_hall h = {.id = id_out,
                  .theatre_id = (char *)theatre_id,
                  .name = (char *)name,
                  .layout = text,
                  .created_at = tix_now_ms(),
                  .updated_at = tix_now_ms()};
    rc = text ? tix_hall_insert(db, &h, &l) : TIX_ENOMEM;
    free(text);
    tix_layout_cleanup(&l);
    return rc;
}

typedef struct demo_venue {
    const char *name;
    const char *city;
    const char *address;
    int64_t lat_e6;
    int64_t lon_e6;
} demo_venue;

static tix_rc add_theatre(tix_db *db, const char *owner, const demo_venue *v, char *id)
{
    tix_id_new(id, "thr");
    int64_t now = tix_now_ms();
    tix_theatre t = {.id = id,
                     .owner_id = (char *)owner,
                     .name = (char *)v->name,
                     .city = (char *)v->city,
                     .address = (char *)v->address,
                     .has_geo = true,
                     .latitude_e6 = v->lat_e6,
                     .longitude_e6 = v->lon_e6,
                     .utc_offset_minutes = 330,
                     .created_at = now,
                     .updated_at = now,
                     .status = "approved"}; /* live at once: `make run` shows its films */
    return tix_theatre_insert(db, &t);
}

/* Shows for the next three days at 10:00, 14:00, 18:30 and 22:00 IST in one hall. */
static tix_rc add_shows(tix_db *db, const tix_config *cfg, const char *hall, const char *theatre,
                        const char *movie, int minutes, bool big)
{
    static const int slots[] = {10 * 60, 14 * 60, 18 * 60 + 30, 22 * 60};
    int64_t now = tix_now_ms();
    int64_t today = now - now % DAY_MS; /* UTC midnight */
    tix_show_price big_prices[] = {{"premium", 35000}, {"recliner", 65000}, {"standard", 22000}};
    tix_show_price small_prices[] = {{"premium", 30000}, {"standard", 18000}};
    tix_rc rc = TIX_OK;
    for (int day = 0; day < 3 && rc == TIX_OK; day++) {
        for (int s = 0; s < 4 && rc == TIX_OK; s++) {
            int64_t start = today + day * DAY_MS + (int64_t)(slots[s] - 330) * 60000;
            if (start <= now + 30LL * 60000) {
                continue;
            }
            char id[TIX_ID_MAX];
            tix_id_new(id, "shw");
            tix_show sh = {.id = id,
                           .movie_id = (char *)movie,
                           .hall_id = (char *)hall,
                           .theatre_id = (char *)theatre,
                           .starts_at = start,
                           .ends_at = tix_show_end(start, minutes, cfg->show_buffer_s * 1000),
                           .currency = "INR",
                           .created_at = now};
            rc = tix_show_insert(db, &sh, big ? big_prices : small_prices, big ? 3 : 2);
        }
    }
    return rc;
}

static tix_rc load_all(tix_db *db, const tix_config *cfg, tix_arena *a)
{
    static const demo_venue venues[] = {
        {"Ticketd Cinemas Phoenix", "Mumbai", "Senapati Bapat Marg, Lower Parel", 18994000,
         72825000},
        {"Ticketd Cinemas Orion", "Bengaluru", "Dr Rajkumar Road, Malleswaram", 13011000, 77555000},
    };
    tix_user owner;
    tix_user user;
    char mids[4][TIX_ID_MAX];
    char tids[2][TIX_ID_MAX];
    char hids[3][TIX_ID_MAX];
    int64_t now = tix_now_ms();
    tix_rc rc =
        add_user(db, "owner@ticketd.local", "owner-password", "Demo Owner", TIX_ROLE_OWNER, &owner);
    rc =
        rc ? rc
           : add_user(db, "user@ticketd.local", "user-password", "Demo User", TIX_ROLE_USER, &user);
    rc = rc ? rc : add_movies(db, a, now, mids);
    rc = rc ? rc : add_theatre(db, owner.id, &venues[0], tids[0]);
    rc = rc ? rc : add_theatre(db, owner.id, &venues[1], tids[1]);
    rc = rc ? rc : add_hall(db, tids[0], "Audi 1 (IMAX)", big_hall, hids[0]);
    rc = rc ? rc : add_hall(db, tids[0], "Audi 2", small_hall, hids[1]);
    rc = rc ? rc : add_hall(db, tids[1], "Screen 1", small_hall, hids[2]);
    rc = rc ? rc : add_shows(db, cfg, hids[0], tids[0], mids[0], movies[0].minutes, true);
    rc = rc ? rc : add_shows(db, cfg, hids[1], tids[0], mids[1], movies[1].minutes, false);
    rc = rc ? rc : add_shows(db, cfg, hids[2], tids[1], mids[2], movies[2].minutes, false);
    return rc;
}

tix_rc tix_demo_load(tix_db *db, const tix_config *cfg, bool *loaded)
{
    *loaded = false;
    tix_db_res *res = NULL;
    tix_rc rc = tix_db_exec(db, "SELECT COUNT(*) FROM movies", NULL, 0, &res);
    int64_t count = rc == TIX_OK ? tix_db_res_int(res, 0, 0) : 0;
    tix_db_res_destroy(res);
    if (rc != TIX_OK || count > 0) {
        return rc;
    }
    tix_arena *a = tix_arena_create(0);
    rc = tix_db_begin(db);
    rc = rc ? rc : load_all(db, cfg, a);
    if (rc == TIX_OK) {
        rc = tix_db_commit(db);
    } else {
        tix_db_rollback(db);
    }
    tix_arena_destroy(a);
    *loaded = rc == TIX_OK;
    return rc;
}
