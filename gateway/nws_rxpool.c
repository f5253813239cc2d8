/*  nws_rxpool - fixed-size buffers whose pages cost memory only once used.  */
#include "nws_rxpool.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

struct nws_rxpool_t {
    uint8_t *base;                  /* the mapping */
    size_t slot;                    /* bytes per slot, whole pages */
    size_t slots;                   /* slots in the mapping */
    size_t *free;                   /* stack of free slot numbers */
    size_t nfree;                   /* entries on it */
};

nws_rxpool_t *
nws_rxpool_new (size_t size, size_t slots)
{
    size_t page = (size_t) sysconf (_SC_PAGESIZE);
    size_t slot = (size + page - 1) / page * page;
    if (!slots || !slot || slots > SIZE_MAX / slot)
        return NULL;
    nws_rxpool_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->slot = slot;
    self->slots = slots;
    self->free = malloc (slots * sizeof *self->free);
    //  Address space only: NORESERVE, so that the kernel's overcommit
    //  check counts only the pages that clients fill.
    self->base = mmap (NULL, slot * slots, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (!self->free || self->base == MAP_FAILED) {
        self->base = NULL;
        nws_rxpool_destroy (&self);
        return NULL;
    }
    //  Lowest slots first: a small gateway touches a small part.
    for (size_t i = 0; i < slots; i++)
        self->free [i] = slots - 1 - i;
    self->nfree = slots;
    return self;
}

void *
nws_rxpool_alloc (nws_rxpool_t *self)
{
    if (!self->nfree)
        return NULL;
    return self->base + self->free [--self->nfree] * self->slot;
}

int
nws_rxpool_owns (nws_rxpool_t *self, const void *ptr)
{
    const uint8_t *p = ptr;
    return self && p >= self->base && p < self->base + self->slot * self->slots;
}

size_t
nws_rxpool_size (nws_rxpool_t *self)
{
    return self->slot;
}

void
nws_rxpool_free (nws_rxpool_t *self, void *ptr)
{
    size_t i = (size_t) ((uint8_t *) ptr - self->base) / self->slot;
    //  What a client filled is not kept for the next one.
    madvise (self->base + i * self->slot, self->slot, MADV_DONTNEED);
    self->free [self->nfree++] = i;
}

void
nws_rxpool_destroy (nws_rxpool_t **self_p)
{
    nws_rxpool_t *self = *self_p;
    if (!self)
        return;
    if (self->base)
        munmap (self->base, self->slot * self->slots);
    free (self->free);
    free (self);
    *self_p = NULL;
}
