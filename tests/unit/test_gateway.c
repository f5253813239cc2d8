/*  Unit tests of the gateway's pure pieces: the receive-buffer pool
    (nws_rxpool) that keeps idle clients' buffers out of memory.  */
#include "nws_rxpool.h"
#include "nws_unit.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

//  1 if the page at ptr is in memory.
static int
s_resident (void *ptr)
{
    unsigned char in = 0;
    CHECK_INT (mincore (ptr, 1, &in), 0);
    return in & 1;
}

//  Slots are whole, page-aligned, distinct, and run out.
static void
rxpool_slots (void)
{
    size_t page = (size_t) sysconf (_SC_PAGESIZE);
    nws_rxpool_t *pool = nws_rxpool_new (page + 20, 3);
    CHECK (pool != NULL);
    CHECK_INT (nws_rxpool_size (pool), 2 * page);
    uint8_t *a = nws_rxpool_alloc (pool), *b = nws_rxpool_alloc (pool);
    uint8_t *c = nws_rxpool_alloc (pool);
    CHECK (a && b && c && a != b && b != c && a != c);
    CHECK_INT ((uintptr_t) a % page, 0);
    CHECK (nws_rxpool_alloc (pool) == NULL);
    CHECK (nws_rxpool_owns (pool, a + 2 * page - 1));
    int x;
    CHECK (!nws_rxpool_owns (pool, &x));
    CHECK (!nws_rxpool_owns (NULL, a));
    nws_rxpool_free (pool, b);
    CHECK (nws_rxpool_alloc (pool) == b);
    nws_rxpool_destroy (&pool);
    CHECK (pool == NULL);
    nws_rxpool_destroy (&pool);
}

//  An unused slot costs no memory; a used one does until it is freed.
static void
rxpool_pages (void)
{
    nws_rxpool_t *pool = nws_rxpool_new (16384, 1000);
    CHECK (pool != NULL);
    uint8_t *slot = nws_rxpool_alloc (pool);
    CHECK (!s_resident (slot));
    memset (slot, 0xab, 100);
    CHECK (s_resident (slot));
    nws_rxpool_free (pool, slot);
    CHECK (!s_resident (slot));
    slot = nws_rxpool_alloc (pool);
    CHECK_INT (slot [0], 0);
    nws_rxpool_destroy (&pool);
    CHECK (nws_rxpool_new (0, 10) == NULL);
    CHECK (nws_rxpool_new (4096, 0) == NULL);
    CHECK (nws_rxpool_new (SIZE_MAX / 2, 4) == NULL);
}

int
main (int argc, char **argv)
{
    static const nws_unit_case_t cases [] = {
        NWS_UNIT_CASE (rxpool_slots),
        NWS_UNIT_CASE (rxpool_pages),
        { NULL, NULL }
    };
    return nws_unit_run (cases, argc, argv);
}
