/*  nws_discovery - links this host's broadcast channels with the LAN.  */
#include "nws_discovery.h"

#include <czmq.h>
#include <errno.h>
#include <ifaddrs.h>
#include <libwebsockets.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "nws_avahi.h"
#include "nws_channel.h"
#include "nws_hubmsg.h"
#include "nws_limits.h"
#include "nws_link.h"
#include "nws_log.h"
#include "nws_reconcile.h"
#include "nws_runtime.h"
#include "nws_text.h"

#define S_PROTOCOL_EVENTS "nws-events"
#define S_RESET_MS 2000             /* after a hub reset, how long interest may take to return */
#define S_STATUS_MS 1000            /* status file refresh */
#define S_JOIN_MARGIN_MS 100        /* a client's open precedes our news of it */
#define S_UNMATCHED_MAX 4096        /* private adverts kept for channels not ours (yet) */

typedef struct {
    char host [NWS_LINK_ADDRESS_MAX]; /* address or name */
    uint16_t port;                  /* gateway port */
} s_peer_t;

//  Frees a hash item (s_peer_t, int64_t).
static void
s_item_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

static void *
s_int64_dup (const void *item)
{
    int64_t *copy = malloc (sizeof *copy);
    if (copy)
        *copy = *(const int64_t *) item;
    return copy;
}

typedef struct {
    nws_channel_t channel;          /* a broadcast channel with local clients */
    int confirmed;                  /* seen since the last hub reset */
    int64_t since;                  /* zclock_mono when we heard of its clients */
    char tag [NWS_NETKEY_TAG_HEX + 1]; /* its tag in private adverts (with a key) */
} s_interest_t;

struct nws_discovery_t {
    nws_discovery_config_t config;  /* copy of the caller's */
    uint32_t instance;              /* origin id of our publications */
    struct lws_context *context;    /* lws, client side only */
    struct lws_vhost *vhost;        /* its default vhost */
    void *zctx;                     /* libzmq */
    void *events;                   /* SUB on the hub's events socket */
    void *pub;                      /* PUB on the hub's publisher side */
    nws_avahi_t *avahi;             /* DNS-SD, NULL with --no-avahi */
    zhashx_t *interest;             /* name -> s_interest_t */
    zhashx_t *tags;                 /* tag -> s_interest_t, with a key */
    zhashx_t *unmatched;            /* advert instance -> nws_avahi_event_t: private
                                       adverts of channels without clients here */
    SSL_CTX *tls;                   /* links' TLS client context, with a key */
    zhashx_t *remotes;              /* advert instance -> nws_reconcile_source_t */
    zhashx_t *links;                /* source name -> nws_link_t made for it */
    zhashx_t *merged;               /* source name -> name of the link that serves it */
    zhashx_t *orphans;              /* link name -> int64_t: kept without a source until */
    char proxy_id [NWS_PROXY_ID_LEN + 1]; /* ours (nws_runtime.h) */
    int hub_back;                   /* the hub (re)started: mark every link again */
    int snapshot;                   /* reading the hub's first snapshot of interest */
    s_peer_t peers [NWS_OPT_LIST_MAX]; /* --peer, parsed */
    int peer_count;                 /* peers used */
    lws_sorted_usec_list_t reset;   /* ends a hub reset */
    lws_sorted_usec_list_t status;  /* status file refresh */
    uint64_t published;             /* messages from links into the hub */
    uint64_t publish_failed;        /* refused by PUB */
    char status_path [300];         /* <dir>/discovery.json */
    int status_failed;              /* the last write failed (logged) */
};

static nws_discovery_t *
s_self (struct lws *wsi)
{
    return lws_context_user (lws_get_context (wsi));
}

//  ---------------------------------------------------------------------
//  Status

static void
s_status_write (nws_discovery_t *self)
{
    nws_text_t out = { 0 };
    nws_text_printf (&out, "{\"pid\":%d,\"port\":%u,", (int) getpid (), (unsigned) self->config.port);
    if (self->avahi)
        nws_avahi_status (self->avahi, &out);
    else
        nws_text_printf (&out, "\"daemon\":\"disabled\",\"adverts\":[]");
    nws_text_printf (&out, ",\"interest\":[");
    const char *sep = "";
    for (s_interest_t *i = zhashx_first (self->interest); i; i = zhashx_next (self->interest)) {
        nws_text_printf (&out, "%s\"%s\"", sep, i->channel.name);
        sep = ",";
    }
    nws_text_printf (&out, "],\"remotes\":%zu,\"links\":[", zhashx_size (self->remotes));
    sep = "";
    for (nws_link_t *link = zhashx_first (self->links); link; link = zhashx_next (self->links)) {
        nws_text_printf (&out, "%s", sep);
        nws_link_status (link, &out);
        sep = ",";
    }
    nws_text_printf (&out, "],\"merged\":{");
    sep = "";
    for (char *into = zhashx_first (self->merged); into; into = zhashx_next (self->merged)) {
        nws_text_printf (&out, "%s\"%s\":\"%s\"", sep, (const char *) zhashx_cursor (self->merged),
                         into);
        sep = ",";
    }
    nws_text_printf (&out, "},\"proxy_id\":\"%s\",\"published\":%llu,\"publish_failed\":%llu}\n",
                     self->proxy_id,
                     (unsigned long long) self->published,
                     (unsigned long long) self->publish_failed);
    const char *step;
    int rc = nws_text_write_file (&out, self->status_path, &step);
    nws_text_free (&out);
    //  Logged once until it works again: a full disk must not flood the log.
    if (rc && !self->status_failed)
        nws_warn ("cannot update %s (%s: %s)", self->status_path, step, strerror (-rc));
    self->status_failed = rc != 0;
}

static void s_reconcile (nws_discovery_t *self, const nws_channel_t *channel);

//  Ends the grace of orphan links whose time is up (or that broke).
static void
s_orphans_sweep (nws_discovery_t *self)
{
    int64_t now = zclock_mono ();
    zlistx_t *due = zlistx_new ();
    for (int64_t *until = zhashx_first (self->orphans); until; until = zhashx_next (self->orphans)) {
        nws_link_t *link = zhashx_lookup (self->links, zhashx_cursor (self->orphans));
        if (link && (now >= *until || !nws_link_is_open (link))) {
            nws_channel_t *channel = malloc (sizeof *channel);
            if (channel) {
                *channel = *nws_link_channel (link);
                zlistx_add_end (due, channel);
            }
            *until = now;
        }
    }
    for (nws_channel_t *c = zlistx_first (due); c; c = zlistx_next (due)) {
        s_reconcile (self, c);
        free (c);
    }
    zlistx_destroy (&due);
}

//  Publishes a control message (a mark, or lost) on link's channel, in the
//  name of link's origin.
static void
s_link_control (nws_discovery_t *self, nws_link_t *link, uint64_t seq,
                const char *payload, size_t len)
{
    char topic [NWS_TOPIC_MAX];
    int topic_len = nws_channel_topic (nws_link_channel (link), topic, sizeof topic);
    nws_envelope_t env = {
        .kind = NWS_KIND_TEXT,
        .flags = NWS_FLAG_CONTROL | NWS_FLAG_FROM_PROXY,
        .origin = (uint64_t) self->instance << 32 | nws_link_id (link),
        .seq = seq,
    };
    nws_hubmsg_send (self->pub, topic, (size_t) topic_len, &env, payload, len);
}

//  Marks what each link published, as a gateway marks its clients: a
//  receiver then notices the tail of a burst lost in our hub even when
//  nothing follows it.
static void
s_links_mark (nws_discovery_t *self)
{
    int again = self->hub_back;
    self->hub_back = 0;
    for (nws_link_t *link = zhashx_first (self->links); link; link = zhashx_next (self->links)) {
        uint64_t seq, age;
        if (!nws_link_mark (link, again, &seq, &age))
            continue;
        char mark [NWS_CONTROL_MARK_MAX];
        int len = nws_control_mark (age, NWS_MARK_NO_AGE, mark, sizeof mark);
        s_link_control (self, link, seq, mark, (size_t) len);
    }
}

static void
s_on_status_timer (lws_sorted_usec_list_t *sul)
{
    nws_discovery_t *self = lws_container_of (sul, nws_discovery_t, status);
    s_links_mark (self);
    s_orphans_sweep (self);
    s_status_write (self);
    lws_sul_schedule (self->context, 0, &self->status, s_on_status_timer,
                      S_STATUS_MS * LWS_US_PER_MS);
}

//  ---------------------------------------------------------------------
//  Links

static void
s_on_link_message (void *arg, nws_link_t *link, uint8_t kind, const void *data, size_t len)
{
    nws_discovery_t *self = arg;
    char topic [NWS_TOPIC_MAX];
    int topic_len = nws_channel_topic (nws_link_channel (link), topic, sizeof topic);
    nws_envelope_t env = {
        .kind = kind,
        .flags = NWS_FLAG_FROM_PROXY,
        .origin = (uint64_t) self->instance << 32 | nws_link_id (link),
        .seq = nws_link_next_seq (link),
    };
    if (nws_hubmsg_send (self->pub, topic, (size_t) topic_len, &env, data, len) == 0)
        self->published++;
    else
        self->publish_failed++;
}

//  Tells the local gateways that this channel lost messages from a peer,
//  so that they close its clients with 4002 rather than leave a silent gap.
static void
s_on_link_loss (void *arg, nws_link_t *link)
{
    nws_discovery_t *self = arg;
    s_link_control (self, link, 0, NWS_CONTROL_LOST, strlen (NWS_CONTROL_LOST));
}

//  "address:port", IPv6 in brackets.
static void
s_host_port (const char *address, uint16_t port, char *buf, size_t cap)
{
    int v6 = strchr (address, ':') != NULL;
    snprintf (buf, cap, "%s%s%s:%u", v6 ? "[" : "", address, v6 ? "]" : "", (unsigned) port);
}

static void
s_source_add (zhashx_t *wanted, const char *name, const nws_reconcile_source_t *source)
{
    nws_reconcile_source_t *copy = malloc (sizeof *copy);
    if (!copy)
        return;
    *copy = *source;
    zhashx_update (wanted, name, copy);
}

//  The sources of one channel that want a link: its remote adverts and
//  the static peers, while the channel has local clients. Sources are
//  named by advert instance or "peer:HOST:PORT <channel>", and a link by
//  the source it was made for.
static zhashx_t *
s_wanted (nws_discovery_t *self, const nws_channel_t *channel)
{
    zhashx_t *wanted = zhashx_new ();
    if (!wanted)
        return NULL;
    zhashx_set_destructor (wanted, s_item_free);
    int interested = zhashx_lookup (self->interest, channel->name) != NULL;
    nws_reconcile_source_t *r;
    for (r = zhashx_first (self->remotes); r; r = zhashx_next (self->remotes))
        if (nws_reconcile_wanted (interested, channel, r))
            s_source_add (wanted, zhashx_cursor (self->remotes), r);
    for (int i = 0; i < self->peer_count; i++) {
        char name [NWS_LINK_NAME_MAX];
        nws_reconcile_source_t peer = { .channel = *channel, .port = self->peers [i].port,
                                        .address_count = 1 };
        memcpy (peer.addresses [0], self->peers [i].host, NWS_LINK_ADDRESS_MAX);
        snprintf (name, sizeof name, "peer:%s:%u %s", self->peers [i].host,
                  (unsigned) self->peers [i].port, channel->name);
        if (nws_reconcile_wanted (interested, channel, &peer))
            s_source_add (wanted, name, &peer);
    }
    return wanted;
}

static int s_on_link_open (void *arg, nws_link_t *link);

//  Renames link key after the first source merged into it; the others
//  merged into it follow.
static void
s_link_rename (nws_discovery_t *self, const char *key)
{
    char old [NWS_LINK_NAME_MAX], name [NWS_LINK_NAME_MAX] = "";
    snprintf (old, sizeof old, "%s", key);
    for (char *into = zhashx_first (self->merged); into && !*name; into = zhashx_next (self->merged))
        if (strcmp (into, old) == 0)
            snprintf (name, sizeof name, "%s", (const char *) zhashx_cursor (self->merged));
    nws_link_t *link = zhashx_lookup (self->links, old);
    if (!*name || !link || zhashx_lookup (self->links, name))
        return;
    zhashx_delete (self->merged, name);
    for (char *into = zhashx_first (self->merged); into; into = zhashx_next (self->merged))
        if (strcmp (into, old) == 0) {
            char *copy = strdup (name);
            if (copy)
                zhashx_update (self->merged, zhashx_cursor (self->merged), copy);
        }
    zhashx_rename (self->links, old, name);
    zhashx_rename (self->orphans, old, name);
    nws_link_set_name (link, name);
    nws_info ("link %s now serves %s", old, name);
}

//  Brings the links of one channel in line with interest, adverts and
//  static peers: one link per peer proxy while the channel has local
//  clients. A source gets a link of its own unless it was merged into a
//  link that reached the same proxy (s_on_link_open); a link dials the
//  addresses of every source it serves, its own first.
static void
s_reconcile (nws_discovery_t *self, const nws_channel_t *channel)
{
    zhashx_t *wanted = s_wanted (self, channel);
    if (!wanted)
        return;
    int interested = zhashx_lookup (self->interest, channel->name) != NULL;
    int64_t now = zclock_mono ();
    //  Merged sources that are no longer wanted, or whose link is gone.
    zlistx_t *stale = zlistx_new ();
    for (char *into = zhashx_first (self->merged); into; into = zhashx_next (self->merged)) {
        const char *source = zhashx_cursor (self->merged);
        nws_link_t *link = zhashx_lookup (self->links, into);
        if (!link || (strcmp (nws_link_channel (link)->name, channel->name) == 0
                      && !zhashx_lookup (wanted, source)))
            zlistx_add_end (stale, (void *) source);
    }
    for (const char *source = zlistx_first (stale); source; source = zlistx_next (stale))
        zhashx_delete (self->merged, source);
    zlistx_destroy (&stale);

    zlistx_t *doomed = zlistx_new ();
    zlistx_t *renamed = zlistx_new ();
    for (nws_link_t *link = zhashx_first (self->links); link; link = zhashx_next (self->links)) {
        const char *key = zhashx_cursor (self->links);
        if (strcmp (nws_link_channel (link)->name, channel->name) != 0)
            continue;
        //  What this link serves: its own source, then those merged into it.
        nws_reconcile_source_t serves = { .channel = *channel };
        const char *own = zhashx_lookup (wanted, key) ? key : NULL;
        if (own)
            nws_reconcile_merge (&serves, zhashx_lookup (wanted, key));
        for (char *into = zhashx_first (self->merged); into; into = zhashx_next (self->merged))
            if (strcmp (into, key) == 0 && zhashx_lookup (wanted, zhashx_cursor (self->merged))) {
                nws_reconcile_merge (&serves, zhashx_lookup (wanted, zhashx_cursor (self->merged)));
                own = own ? own : zhashx_cursor (self->merged);
            }
        nws_reconcile_link_t verdict;
        verdict = nws_reconcile_link (own != NULL, interested, nws_link_is_open (link),
                                      zhashx_lookup (self->orphans, key), now);
        if (verdict == NWS_RECONCILE_KEEP) {
            zhashx_delete (self->orphans, key);
            if (own != key)
                zlistx_add_end (renamed, (void *) key);
            nws_link_set_addresses (link, serves.port,
                                    (const char (*) [NWS_LINK_ADDRESS_MAX]) serves.addresses,
                                    serves.address_count);
        }
        else
        if (verdict == NWS_RECONCILE_ORPHAN) {
            int64_t deadline = now + NWS_RECONCILE_ORPHAN_MS;
            zhashx_insert (self->orphans, key, &deadline);
        }
        else
        if (verdict == NWS_RECONCILE_CLOSE)
            zlistx_add_end (doomed, (void *) key);
    }
    for (const char *key = zlistx_first (doomed); key; key = zlistx_next (doomed)) {
        nws_link_t *link = zhashx_lookup (self->links, key);
        nws_info ("unlinking %s (%s)", channel->name, key);
        //  Sources merged into it need a link of their own again.
        zlistx_t *orphaned = zlistx_new ();
        for (char *into = zhashx_first (self->merged); into; into = zhashx_next (self->merged))
            if (strcmp (into, key) == 0)
                zlistx_add_end (orphaned, (void *) zhashx_cursor (self->merged));
        for (const char *source = zlistx_first (orphaned); source; source = zlistx_next (orphaned))
            zhashx_delete (self->merged, source);
        zlistx_destroy (&orphaned);
        zhashx_delete (self->orphans, key);
        zhashx_delete (self->links, key);
        nws_link_close (&link);
    }
    zlistx_destroy (&doomed);
    //  A link whose own source went, but that serves merged ones, takes
    //  the name of one of them.
    for (const char *key = zlistx_first (renamed); key; key = zlistx_next (renamed))
        s_link_rename (self, key);
    zlistx_destroy (&renamed);
    //  Sources served by no link get one.
    nws_reconcile_source_t *source;
    for (source = zhashx_first (wanted); source; source = zhashx_next (wanted)) {
        const char *name = zhashx_cursor (wanted);
        if (zhashx_lookup (self->links, name) || zhashx_lookup (self->merged, name))
            continue;
        nws_link_handlers_t handlers = {
            .on_message = s_on_link_message,
            .on_loss = s_on_link_loss,
            .on_open = s_on_link_open,
            .arg = self,
        };
        s_interest_t *interest = zhashx_lookup (self->interest, channel->name);
        nws_link_t *link = nws_link_new (self->context, self->vhost, name, channel,
                                         self->proxy_id, interest ? interest->since : now,
                                         self->config.max_message, &handlers);
        if (link) {
            if (self->tls)
                nws_link_set_tls (link);
            zhashx_insert (self->links, name, link);
            char where [NWS_LINK_ADDRESS_MAX + 10];
            s_host_port (source->addresses [0], source->port, where, sizeof where);
            nws_info ("linking %s to %s (%s '%s')", channel->name, where,
                      strncmp (name, "peer:", 5) == 0 ? "static peer" : "advert", name);
            nws_link_set_addresses (link, source->port,
                                    (const char (*) [NWS_LINK_ADDRESS_MAX]) source->addresses,
                                    source->address_count);
        }
    }
    zhashx_destroy (&wanted);
    s_status_write (self);
}

//  A link opened and knows whom it reached. Another open link of the
//  channel to the same proxy (through another address, advert or --peer)
//  already brings its messages: then this one closes before reading
//  anything, and its source is served by that link.
static int
s_on_link_open (void *arg, nws_link_t *link)
{
    nws_discovery_t *self = arg;
    const char *name = nws_link_name (link);
    for (nws_link_t *other = zhashx_first (self->links); other; other = zhashx_next (self->links)) {
        if (other == link
        ||  !nws_reconcile_same_proxy (nws_link_channel (link), nws_link_peer (link),
                                      nws_link_is_open (other), nws_link_channel (other),
                                      nws_link_peer (other)))
            continue;
        char *into = strdup (zhashx_cursor (self->links));
        if (!into)
            return 0;
        nws_info ("link %s reached %s, which link %s reads already; it serves both", name,
                  nws_link_peer (link), into);
        nws_channel_t channel = *nws_link_channel (link);
        zhashx_update (self->merged, name, into);
        zhashx_delete (self->orphans, name);
        zhashx_delete (self->links, name);
        s_reconcile (self, &channel);
        return -1;
    }
    return 0;
}

//  ---------------------------------------------------------------------
//  Private adverts (with a network key): they carry tags, not names

static void s_on_avahi_event (nws_discovery_t *self, const nws_avahi_event_t *event);

//  Maps a private advert's event to our channel of its tag into *mapped.
//  One of no channel of ours is kept aside (until one has clients here,
//  s_tag_add) and forgotten when lost. Returns 1 if the event goes on.
static int
s_private_map (nws_discovery_t *self, const nws_avahi_event_t *event, nws_avahi_event_t *mapped)
{
    if (event->type == NWS_AVAHI_LOST) {
        zhashx_delete (self->unmatched, event->instance);
        return 1;
    }
    s_interest_t *interest = zhashx_lookup (self->tags, event->channel.name);
    if (interest) {
        zhashx_delete (self->unmatched, event->instance);
        *mapped = *event;
        mapped->channel = interest->channel;
        return 1;
    }
    //  Not (or no longer) one of ours: drop any link made for it before.
    if (zhashx_lookup (self->remotes, event->instance)) {
        nws_avahi_event_t lost = { .type = NWS_AVAHI_LOST };
        memcpy (lost.instance, event->instance, sizeof lost.instance);
        s_on_avahi_event (self, &lost);
    }
    if (!zhashx_lookup (self->unmatched, event->instance)
    &&  zhashx_size (self->unmatched) >= S_UNMATCHED_MAX) {
        nws_debug ("ignoring private advert '%s': %d kept already", event->instance,
                   S_UNMATCHED_MAX);
        return 0;
    }
    nws_avahi_event_t *copy = malloc (sizeof *copy);
    if (copy) {
        *copy = *event;
        zhashx_update (self->unmatched, event->instance, copy);
    }
    return 0;
}

//  interest's channel has clients here now: its tag is ours, and the
//  private adverts kept aside with that tag are found again.
static void
s_tag_add (nws_discovery_t *self, s_interest_t *interest)
{
    nws_netkey_tag (self->config.key, &interest->channel, interest->tag);
    zhashx_update (self->tags, interest->tag, interest);
    zlistx_t *found = zlistx_new ();
    if (!found)
        return;
    for (nws_avahi_event_t *e = zhashx_first (self->unmatched); e; e = zhashx_next (self->unmatched))
        if (strcmp (e->channel.name, interest->tag) == 0)
            zlistx_add_end (found, e);
    for (nws_avahi_event_t *e = zlistx_first (found); e; e = zlistx_next (found)) {
        nws_avahi_event_t event = *e;
        s_on_avahi_event (self, &event);
    }
    zlistx_destroy (&found);
}

//  ---------------------------------------------------------------------
//  Interest, from the hub

static void
s_interest_set (nws_discovery_t *self, const nws_channel_t *channel, int on)
{
    s_interest_t *interest = zhashx_lookup (self->interest, channel->name);
    if (on) {
        if (interest) {
            interest->confirmed = 1;
            return;
        }
        interest = calloc (1, sizeof *interest);
        if (!interest)
            return;
        interest->channel = *channel;
        interest->confirmed = 1;
        //  A client's open comes before our news of it; but interest we
        //  only learn from the hub's snapshot, as we start, is old, and
        //  what was sent before we started was another process's to read.
        interest->since = zclock_mono () - (self->snapshot ? 0 : S_JOIN_MARGIN_MS);
        zhashx_insert (self->interest, channel->name, interest);
        nws_info ("broadcast channel %s has local clients", channel->name);
        if (self->config.key)
            s_tag_add (self, interest);
        if (self->avahi)
            nws_avahi_advertise (self->avahi, channel);
    }
    else {
        if (!interest)
            return;
        nws_info ("broadcast channel %s has no local clients left", channel->name);
        if (self->avahi)
            nws_avahi_withdraw (self->avahi, channel);
        zhashx_delete (self->interest, channel->name);
        if (self->config.key)
            zhashx_delete (self->tags, interest->tag);
        free (interest);
    }
    s_reconcile (self, channel);
}

//  A reset is over: what the hub did not confirm since is gone.
static void
s_on_reset_timer (lws_sorted_usec_list_t *sul)
{
    nws_discovery_t *self = lws_container_of (sul, nws_discovery_t, reset);
    self->snapshot = 0;
    zlistx_t *gone = zlistx_new ();
    for (s_interest_t *i = zhashx_first (self->interest); i; i = zhashx_next (self->interest))
        if (!i->confirmed)
            zlistx_add_end (gone, i);
    for (s_interest_t *i = zlistx_first (gone); i; i = zlistx_next (gone)) {
        nws_channel_t channel = i->channel;
        s_interest_set (self, &channel, 0);
    }
    zlistx_destroy (&gone);
}

static void
s_on_event (nws_discovery_t *self, const char *data, size_t size)
{
    nws_channel_t channel;
    if (size == 1 && data [0] == '*') {
        //  The hub (re)started or we (re)subscribed: a snapshot follows,
        //  and gateways may still be re-subscribing. Keep what we have for
        //  a while instead of withdrawing adverts that are about to return.
        for (s_interest_t *i = zhashx_first (self->interest); i; i = zhashx_next (self->interest))
            i->confirmed = 0;
        self->hub_back = 1;
        lws_sul_schedule (self->context, 0, &self->reset, s_on_reset_timer,
                          S_RESET_MS * LWS_US_PER_MS);
        return;
    }
    if (size < 2 || (data [0] != '+' && data [0] != '-')
    ||  nws_channel_from_topic (data + 1, size - 1, &channel)
    ||  channel.scope != NWS_SCOPE_BROADCAST) {
        nws_warn ("ignoring a malformed hub event (%zu bytes)", size);
        return;
    }
    s_interest_set (self, &channel, data [0] == '+');
}

static void
s_events_drain (nws_discovery_t *self)
{
    for (;;) {
        char data [NWS_TOPIC_MAX + 2];
        int size = zmq_recv (self->events, data, sizeof data, ZMQ_DONTWAIT);
        if (size < 0) {
            if (errno != EAGAIN && errno != EINTR)
                nws_error ("zmq_recv (hub events): %s", zmq_strerror (errno));
            return;
        }
        if ((size_t) size > sizeof data) {
            nws_warn ("ignoring an oversized hub event");
            continue;
        }
        s_on_event (self, data, (size_t) size);
    }
}

//  ---------------------------------------------------------------------
//  Adverts, from avahi

static void
s_on_avahi_event (nws_discovery_t *self, const nws_avahi_event_t *event)
{
    nws_avahi_event_t mapped;
    if (self->config.key && !s_private_map (self, event, &mapped))
        return;
    if (self->config.key && event->type == NWS_AVAHI_FOUND)
        event = &mapped;
    nws_reconcile_source_t *remote = zhashx_lookup (self->remotes, event->instance);
    if (event->type == NWS_AVAHI_LOST) {
        if (!remote)
            return;
        nws_channel_t channel = remote->channel;
        nws_info ("advert '%s' is gone", event->instance);
        zhashx_delete (self->remotes, event->instance);
        free (remote);
        s_reconcile (self, &channel);
        return;
    }
    //  Never link to ourselves, even if avahi does not flag our own advert
    //  (the handshake's proxy id catches what this misses); and a loopback
    //  address from the LAN can only be a trick to make us dial ports of
    //  our own host.
    nws_reconcile_source_t found = { .channel = event->channel, .port = event->port };
    struct ifaddrs *local = NULL;
    if (getifaddrs (&local) < 0)
        local = NULL;
    for (int i = 0; i < event->address_count; i++) {
        nws_reconcile_address_t verdict;
        verdict = nws_reconcile_address (event->addresses [i], event->port,
                                         (uint16_t) self->config.port, local);
        if (verdict == NWS_RECONCILE_LOOPBACK)
            nws_warn ("advert '%s': ignoring %s, a loopback address", event->instance,
                      event->addresses [i]);
        else
        if (verdict == NWS_RECONCILE_OURS)
            nws_debug ("advert '%s': %s is our own address", event->instance,
                       event->addresses [i]);
        else
            snprintf (found.addresses [found.address_count++], NWS_LINK_ADDRESS_MAX, "%s",
                      event->addresses [i]);
    }
    if (local)
        freeifaddrs (local);
    if (found.address_count == 0) {
        nws_debug ("ignoring advert '%s': no address to dial", event->instance);
        if (remote) {
            zhashx_delete (self->remotes, event->instance);
            free (remote);
            s_reconcile (self, &found.channel);
        }
        return;
    }
    nws_channel_t previous = remote ? remote->channel : found.channel;
    if (!remote) {
        remote = calloc (1, sizeof *remote);
        if (!remote)
            return;
        zhashx_insert (self->remotes, event->instance, remote);
    }
    *remote = found;
    char where [NWS_LINK_ADDRESS_MAX + 10];
    char list [NWS_LINK_ADDRESSES * (NWS_LINK_ADDRESS_MAX + 1)] = "";
    s_host_port (found.addresses [0], found.port, where, sizeof where);
    for (int i = 1; i < found.address_count; i++)
        snprintf (list + strlen (list), sizeof list - strlen (list), " %s", found.addresses [i]);
    nws_info ("found advert '%s': %s at %s%s%s%s", event->instance, found.channel.name, where,
              *list ? " (also" : "", list, *list ? ")" : "");
    if (strcmp (previous.name, found.channel.name) != 0)
        s_reconcile (self, &previous);
    s_reconcile (self, &remote->channel);
}

static void
s_wake (void *arg)
{
    nws_discovery_t *self = arg;
    lws_cancel_service (self->context);
}

//  ---------------------------------------------------------------------
//  lws

static int
s_callback_events (struct lws *wsi, enum lws_callback_reasons reason, void *user,
                   void *in, size_t len)
{
    nws_discovery_t *self = s_self (wsi);
    (void) user, (void) in, (void) len;
    if (reason == LWS_CALLBACK_RAW_RX_FILE)
        s_events_drain (self);
    else
    if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED && self && self->avahi) {
        nws_avahi_event_t event;
        while (nws_avahi_next (self->avahi, &event))
            s_on_avahi_event (self, &event);
    }
    return 0;
}

static const struct lws_protocols s_protocols [] = {
    { S_PROTOCOL_EVENTS, s_callback_events, 0, 0, 0, NULL, 0 },
    { NWS_LINK_PROTOCOL, nws_link_callback, 0, 0, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

static void *
s_socket (nws_discovery_t *self, int type, const char *name)
{
    char endpoint [NWS_ENDPOINT_MAX];
    if (nws_runtime_endpoint (self->config.runtime_dir, name, endpoint, sizeof endpoint)) {
        nws_error ("runtime directory path too long for a Unix socket: %s",
                   self->config.runtime_dir);
        return NULL;
    }
    void *sock = nws_hubmsg_socket (self->zctx, type, endpoint);
    if (sock && type == ZMQ_SUB)
        zmq_setsockopt (sock, ZMQ_SUBSCRIBE, "", 0);
    return sock;
}

//  Adopts a dup() of the events socket's ZMQ_FD (lws closes what it adopts).
static int
s_attach_events (nws_discovery_t *self)
{
    lws_sock_file_fd_type copy = { .filefd = nws_hubmsg_fd (self->events) };
    if (copy.filefd < 0
    ||  !lws_adopt_descriptor_vhost (self->vhost, LWS_ADOPT_RAW_FILE_DESC, copy,
                                     S_PROTOCOL_EVENTS, NULL)) {
        nws_error ("cannot adopt the hub events socket into lws");
        return -1;
    }
    s_events_drain (self);
    return 0;
}

nws_discovery_t *
nws_discovery_new (const nws_discovery_config_t *config)
{
    nws_discovery_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    self->snapshot = 1;             //  until the first reset is over
    for (int i = 0; i < config->peers.count; i++) {
        s_peer_t *peer = &self->peers [self->peer_count++];
        if (nws_discovery_parse_peer (config->peers.items [i], peer->host, sizeof peer->host,
                                      &peer->port)) {
            nws_error ("--peer '%s': expected HOST:PORT", config->peers.items [i]);
            free (self);
            return NULL;
        }
    }
    self->instance = nws_runtime_random_id ();
    snprintf (self->status_path, sizeof self->status_path, "%s/discovery.json",
              config->runtime_dir);
    self->interest = zhashx_new ();
    self->remotes = zhashx_new ();
    self->links = zhashx_new ();
    self->merged = zhashx_new ();
    self->orphans = zhashx_new ();
    self->tags = zhashx_new ();
    self->unmatched = zhashx_new ();
    self->zctx = zmq_ctx_new ();
    if (!self->interest || !self->remotes || !self->links || !self->merged || !self->orphans
    ||  !self->tags || !self->unmatched || !self->zctx)
        goto fail;
    zhashx_set_destructor (self->merged, s_item_free);
    zhashx_set_destructor (self->unmatched, s_item_free);
    if (config->key && !(self->tls = nws_netkey_tls_client (config->key))) {
        nws_error ("cannot set up TLS for the network key");
        goto fail;
    }
    int rc = nws_runtime_proxy_id (config->runtime_dir, self->proxy_id, sizeof self->proxy_id);
    if (rc < 0) {
        nws_error ("cannot read or create %s/proxy-id: %s", config->runtime_dir, strerror (-rc));
        goto fail;
    }
    zhashx_set_duplicator (self->orphans, s_int64_dup);
    zhashx_set_destructor (self->orphans, s_item_free);
    self->events = s_socket (self, ZMQ_SUB, "hub-events");
    self->pub = s_socket (self, ZMQ_PUB, "hub-in");
    if (!self->events || !self->pub)
        goto fail;

    lws_set_log_level (LLL_ERR | LLL_WARN, nws_log_lws);
    struct lws_context_creation_info info;
    memset (&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = s_protocols;
    info.user = self;
    info.timeout_secs = NWS_DEFAULT_HANDSHAKE_SECS;
    if (self->tls) {
        //  Links dial with TLS: this context, which holds the key's PSK.
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.provided_client_ssl_ctx = self->tls;
    }
    self->context = lws_create_context (&info);
    if (!self->context) {
        nws_error ("lws_create_context failed");
        goto fail;
    }
    self->vhost = lws_get_vhost_by_name (self->context, "default");
    if (!self->vhost)
        goto fail;
    //  avahi first: the hub's snapshot of interest, read next, must find
    //  it there to advertise through.
    if (!config->no_avahi) {
        self->avahi = nws_avahi_new ((uint16_t) config->port, config->key, s_wake, self);
        if (!self->avahi)
            goto fail;
    }
    if (s_attach_events (self))
        goto fail;
    s_on_status_timer (&self->status);
    return self;
fail:
    nws_discovery_destroy (&self);
    return NULL;
}

int
nws_discovery_run (nws_discovery_t *self, volatile sig_atomic_t *stop)
{
    while (!*stop)
        if (lws_service (self->context, 0) < 0)
            break;
    return 0;
}

void
nws_discovery_destroy (nws_discovery_t **self_p)
{
    nws_discovery_t *self = *self_p;
    if (!self)
        return;
    //  Adverts go first, with goodbye packets, so peers drop us at once.
    nws_avahi_destroy (&self->avahi);
    if (self->links)
        for (nws_link_t *link = zhashx_first (self->links); link; link = zhashx_next (self->links)) {
            nws_link_t *doomed = link;
            nws_link_close (&doomed);
        }
    if (self->context) {
        lws_sul_cancel (&self->reset);
        lws_sul_cancel (&self->status);
        lws_context_destroy (self->context);
    }
    if (self->events)
        zmq_close (self->events);
    if (self->pub)
        zmq_close (self->pub);
    if (self->zctx)
        zmq_ctx_term (self->zctx);
    if (self->remotes)
        for (void *r = zhashx_first (self->remotes); r; r = zhashx_next (self->remotes))
            free (r);
    if (self->interest)
        for (void *i = zhashx_first (self->interest); i; i = zhashx_next (self->interest))
            free (i);
    zhashx_destroy (&self->interest);
    zhashx_destroy (&self->remotes);
    zhashx_destroy (&self->links);
    zhashx_destroy (&self->merged);
    zhashx_destroy (&self->orphans);
    zhashx_destroy (&self->tags);
    zhashx_destroy (&self->unmatched);
    SSL_CTX_free (self->tls);
    unlink (self->status_path);
    free (self);
    *self_p = NULL;
}

int
nws_discovery_parse_peer (const char *text, char *host, size_t cap, uint16_t *port)
{
    const char *colon = text ? strrchr (text, ':') : NULL;
    if (!colon || colon == text)
        return -EINVAL;
    uint64_t number;
    if (nws_opts_parse_number (colon + 1, 0, &number) || number == 0 || number > 65535)
        return -EINVAL;
    const char *start = text, *end = colon;
    if (*start == '[') {
        if (end [-1] != ']')
            return -EINVAL;
        start++, end--;
    }
    size_t len = (size_t) (end - start);
    if (len == 0 || len >= cap || len > 253)
        return -EINVAL;
    //  In brackets, an IPv6 address may end in %<interface> (its scope).
    int scoped = 0;
    for (size_t i = 0; i < len; i++) {
        char c = start [i];
        if (c == '%' && *text == '[' && !scoped && i > 0 && i + 1 < len) {
            scoped = 1;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || c == '.' || c == '-' || (c == ':' && *text == '[' && !scoped)))
            return -EINVAL;
    }
    memcpy (host, start, len);
    host [len] = '\0';
    *port = (uint16_t) number;
    return 0;
}
