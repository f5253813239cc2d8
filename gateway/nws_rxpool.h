/*  nws_rxpool - fixed-size buffers whose pages cost memory only once used.

    Every WebSocket connection gets a receive buffer from lws at its
    upgrade, sized so that one read takes in many messages. From malloc,
    each would cost a resident page at once (its header, and the next
    chunk's), whether the client ever sends or not. Here the buffers are
    page-aligned slots of one reserved mapping, their bookkeeping kept
    apart: an idle client's slot stays untouched, and a freed slot's pages
    are given back to the kernel.
*/
#ifndef NWS_RXPOOL_H
#define NWS_RXPOOL_H

#include <stddef.h>

typedef struct nws_rxpool_t nws_rxpool_t;

/*  Reserves slots buffers of size bytes each (rounded up to whole pages;
    address space only). Returns NULL when the mapping fails.  */
nws_rxpool_t *nws_rxpool_new (size_t size, size_t slots);

/*  A free slot, or NULL when all are taken.  */
void *nws_rxpool_alloc (nws_rxpool_t *self);

/*  1 if ptr is a slot of this pool.  */
int nws_rxpool_owns (nws_rxpool_t *self, const void *ptr);

/*  The usable bytes of a slot.  */
size_t nws_rxpool_size (nws_rxpool_t *self);

/*  Returns a slot; its pages go back to the kernel.  */
void nws_rxpool_free (nws_rxpool_t *self, void *ptr);

/*  Unmaps the pool. Safe on NULL.  */
void nws_rxpool_destroy (nws_rxpool_t **self_p);

#endif
