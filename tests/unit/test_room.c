/*  Unit tests of the gateway's room: the per-sender gap table
    (nws_room_track and the questions asked of it).  */
#include "nws_room.h"
#include "nws_unit.h"

static nws_room_t *
s_room (void)
{
    nws_channel_t channel;
    CHECK_INT (nws_channel_parse_path ("/local/room", &channel), 0);
    nws_room_t *room = nws_room_new (&channel);
    CHECK (room != NULL);
    return room;
}

//  Each sender's numbers must follow one another; its first is no gap.
static void
track_gaps (void)
{
    nws_room_t *room = s_room ();
    CHECK (!nws_room_knows (room, 7));
    CHECK_INT (nws_room_track (room, 7, 1), 0);
    CHECK_INT (nws_room_track (room, 7, 2), 0);
    CHECK_INT (nws_room_track (room, 7, 4), 1);
    CHECK_INT (nws_room_track (room, 7, 5), 0);
    CHECK_INT (nws_room_track (room, 7, 5), 1);
    //  Unsequenced messages are not tracked at all.
    CHECK_INT (nws_room_track (room, 9, 0), 0);
    CHECK (!nws_room_knows (room, 9));
    nws_room_destroy (&room);
    CHECK (room == NULL);
}

//  Many senders taking turns: each is remembered, so a gap in any one
//  shows (a table of 16 forgot them all).
static void
track_many_senders (void)
{
    nws_room_t *room = s_room ();
    enum { SENDERS = 1000 };
    for (uint64_t seq = 1; seq <= 3; seq++)
        for (uint64_t i = 0; i < SENDERS; i++)
            CHECK_INT (nws_room_track (room, (i * 7919) << 20 | i, seq), 0);
    CHECK_INT (nws_room_track (room, (uint64_t) 500 * 7919 << 20 | 500, 5), 1);
    for (uint64_t i = 0; i < SENDERS; i++)
        CHECK (nws_room_knows (room, (i * 7919) << 20 | i));
    nws_room_destroy (&room);
}

//  Past NWS_ROOM_ORIGINS_MAX the least recent sender is forgotten, and
//  only that one.
static void
track_limit (void)
{
    nws_room_t *room = s_room ();
    for (uint64_t i = 1; i <= NWS_ROOM_ORIGINS_MAX; i++)
        CHECK_INT (nws_room_track (room, i, 1), 0);
    CHECK_INT (nws_room_track (room, 1, 2), 0);
    CHECK_INT (nws_room_track (room, NWS_ROOM_ORIGINS_MAX + 1, 1), 0);
    CHECK (!nws_room_knows (room, 2));
    CHECK (nws_room_knows (room, 1));
    CHECK (nws_room_knows (room, 3));
    CHECK (nws_room_knows (room, NWS_ROOM_ORIGINS_MAX + 1));
    CHECK_INT (room->origin_count, NWS_ROOM_ORIGINS_MAX);
    nws_room_destroy (&room);
}

//  A mark past what arrived means messages were lost; one at or before
//  it does not, and an unknown sender is not "behind".
static void
behind (void)
{
    nws_room_t *room = s_room ();
    CHECK_INT (nws_room_track (room, 42, 3), 0);
    CHECK (!nws_room_behind (room, 42, 3));
    CHECK (!nws_room_behind (room, 42, 2));
    CHECK (nws_room_behind (room, 42, 4));
    CHECK (!nws_room_behind (room, 43, 9));
    nws_room_destroy (&room);
}

//  Where a sender began here: its first number until settled, then 1.
static void
first_and_settle (void)
{
    nws_room_t *room = s_room ();
    CHECK_INT (nws_room_first (room, 5), 0);
    CHECK_INT (nws_room_track (room, 5, 3), 0);
    CHECK_INT (nws_room_track (room, 5, 4), 0);
    CHECK_INT (nws_room_first (room, 5), 3);
    nws_room_settle (room, 5);
    CHECK_INT (nws_room_first (room, 5), 1);
    CHECK_INT (nws_room_track (room, 6, 1), 0);
    CHECK_INT (nws_room_first (room, 6), 1);
    nws_room_settle (room, 99);
    CHECK (!nws_room_knows (room, 99));
    nws_room_destroy (&room);
}

int
main (int argc, char **argv)
{
    static const nws_unit_case_t cases [] = {
        NWS_UNIT_CASE (track_gaps),
        NWS_UNIT_CASE (track_many_senders),
        NWS_UNIT_CASE (track_limit),
        NWS_UNIT_CASE (behind),
        NWS_UNIT_CASE (first_and_settle),
        { NULL, NULL }
    };
    return nws_unit_run (cases, argc, argv);
}
