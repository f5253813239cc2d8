/*  nws_avahi - DNS-SD adverts and browsing for nws-discovery.  */
#include "nws_avahi.h"

#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-client/publish.h>
#include <avahi-common/error.h>
#include <avahi-common/timeval.h>
#include <avahi-common/thread-watch.h>
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "nws_advert.h"
#include "nws_log.h"
#include "nws_netkey.h"

typedef struct s_advert_t s_advert_t;
struct s_advert_t {
    nws_avahi_t *owner;             /* for callbacks */
    nws_channel_t channel;          /* what is advertised */
    char instance [64];             /* current instance name */
    AvahiEntryGroup *group;         /* NULL while the daemon is away */
    const char *state;              /* for the status: registering, established... */
    s_advert_t *next;               /* list */
};

#define S_SIGHTINGS 16               /* interface x protocol pairs per advert */
#define S_RESOLVE_RETRY_MIN_SECS 1
#define S_RESOLVE_RETRY_MAX_SECS 30

typedef struct s_remote_t s_remote_t;

//  One interface and protocol an advert was seen on, and what resolving
//  it there found.
typedef struct {
    int used;                       /* slot in use */
    s_remote_t *remote;             /* owner */
    AvahiIfIndex interface;         /* where it was seen */
    AvahiProtocol protocol;         /* over IPv4 or IPv6 mDNS */
    AvahiServiceResolver *resolver; /* open while resolved or resolving */
    AvahiTimeout *retry;            /* after a failure, until the next try */
    unsigned failures;              /* failures in a row */
    int found;                      /* address, port, channel are valid */
    char address [NWS_AVAHI_ADDRESS_MAX]; /* numeric, with %ifindex if link-local */
    uint16_t port;                  /* from SRV */
    nws_channel_t channel;          /* from the TXT path */
} s_sighting_t;

struct s_remote_t {
    nws_avahi_t *owner;             /* for callbacks */
    char instance [64];             /* the key */
    s_sighting_t sightings [S_SIGHTINGS]; /* where it is seen */
    int reported;                   /* FOUND was posted (last holds it) */
    nws_avahi_event_t last;         /* what was last posted */
    int stale;                      /* not seen since the daemon came back */
    s_remote_t *next;               /* list */
};

typedef struct s_event_t s_event_t;
struct s_event_t {
    nws_avahi_event_t event;        /* the payload */
    s_event_t *next;                /* queue */
};

struct nws_avahi_t {
    AvahiThreadedPoll *poll;        /* the avahi thread */
    AvahiClient *client;            /* NULL between a disconnect and the retry */
    AvahiServiceBrowser *browser;   /* while the daemon runs */
    AvahiTimeout *timer;            /* reconnect, or the stale sweep */
    uint16_t port;                  /* advertised */
    const nws_netkey_t *key;        /* private adverts (nws_advert.h), or NULL */
    const char *type;               /* the service type we advertise and browse */
    int running;                    /* daemon available */
    int retrying;                   /* avahi_client_new failed; retrying */
    s_advert_t *adverts;            /* ours */
    s_remote_t *remotes;            /* theirs */
    pthread_mutex_t mutex;          /* guards the event queue */
    s_event_t *head, *tail;         /* event queue */
    void (*wake) (void *arg);       /* tells the main thread */
    void *arg;                      /* for wake */
};

#define S_RETRY_SECS 2

static void s_client_start (nws_avahi_t *self);
static void s_on_reconnect (AvahiTimeout *timer, void *arg);
static void s_set_timer (nws_avahi_t *self, int secs, AvahiTimeoutCallback callback);
static void s_advert_commit (s_advert_t *advert);

static uint32_t
s_random (void)
{
    uint32_t value = 0;
    if (getrandom (&value, sizeof value, 0) != sizeof value)
        value = (uint32_t) rand ();
    return value % 1000000000u;
}

//  A new instance name for advert: a private one names no channel.
static void
s_advert_name (nws_avahi_t *self, s_advert_t *advert)
{
    if (self->key)
        nws_advert_private_instance (s_random (), advert->instance, sizeof advert->instance);
    else
        nws_advert_instance (s_random (), &advert->channel, advert->instance,
                             sizeof advert->instance);
}

//  The TXT string of advert. Returns its length or a negative errno.
static int
s_advert_txt (nws_avahi_t *self, s_advert_t *advert, char *txt, size_t cap)
{
    if (!self->key)
        return nws_advert_txt (&advert->channel, txt, cap);
    char tag [NWS_NETKEY_TAG_HEX + 1];
    nws_netkey_tag (self->key, &advert->channel, tag);
    return nws_advert_private_txt (tag, txt, cap);
}

static void
s_post (nws_avahi_t *self, const nws_avahi_event_t *event)
{
    s_event_t *node = calloc (1, sizeof *node);
    if (!node)
        return;
    node->event = *event;
    pthread_mutex_lock (&self->mutex);
    if (self->tail)
        self->tail->next = node;
    else
        self->head = node;
    self->tail = node;
    pthread_mutex_unlock (&self->mutex);
    self->wake (self->arg);
}

int
nws_avahi_next (nws_avahi_t *self, nws_avahi_event_t *event)
{
    pthread_mutex_lock (&self->mutex);
    s_event_t *node = self->head;
    if (node) {
        self->head = node->next;
        if (!self->head)
            self->tail = NULL;
    }
    pthread_mutex_unlock (&self->mutex);
    if (!node)
        return 0;
    *event = node->event;
    free (node);
    return 1;
}

//  ---------------------------------------------------------------------
//  Our adverts

static void
s_on_group (AvahiEntryGroup *group, AvahiEntryGroupState state, void *arg)
{
    s_advert_t *advert = arg;
    advert->group = group;
    switch (state) {
        case AVAHI_ENTRY_GROUP_ESTABLISHED:
            advert->state = "established";
            nws_info ("advertising %s as '%s'", advert->channel.name, advert->instance);
            break;
        case AVAHI_ENTRY_GROUP_COLLISION:
            //  Someone has our name: draw another number and try again.
            nws_info ("advert name '%s' is taken; choosing another", advert->instance);
            avahi_entry_group_reset (group);
            s_advert_name (advert->owner, advert);
            s_advert_commit (advert);
            break;
        case AVAHI_ENTRY_GROUP_FAILURE:
            advert->state = "failed";
            nws_warn ("advert '%s' failed: %s", advert->instance,
                      avahi_strerror (avahi_client_errno (avahi_entry_group_get_client (group))));
            break;
        default:
            advert->state = "registering";
            break;
    }
}

//  (Re)registers an advert whenever the daemon is there.
static void
s_advert_commit (s_advert_t *advert)
{
    nws_avahi_t *self = advert->owner;
    char txt [NWS_ADVERT_TXT_MAX + 1];
    if (!self->running || !self->client)
        return;
    if (s_advert_txt (self, advert, txt, sizeof txt) < 0) {
        advert->state = "name too long for DNS-SD";
        return;
    }
    if (!advert->group) {
        advert->group = avahi_entry_group_new (self->client, s_on_group, advert);
        if (!advert->group) {
            advert->state = "failed";
            nws_warn ("avahi_entry_group_new: %s", avahi_strerror (avahi_client_errno (self->client)));
            return;
        }
    }
    int rc = avahi_entry_group_add_service (advert->group, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC,
                                            0, advert->instance, self->type, NULL, NULL,
                                            self->port, txt, NULL);
    if (rc == 0)
        rc = avahi_entry_group_commit (advert->group);
    if (rc < 0) {
        advert->state = "failed";
        nws_warn ("cannot advertise '%s': %s", advert->instance, avahi_strerror (rc));
        avahi_entry_group_reset (advert->group);
        return;
    }
    advert->state = "registering";
}

void
nws_avahi_advertise (nws_avahi_t *self, const nws_channel_t *channel)
{
    avahi_threaded_poll_lock (self->poll);
    s_advert_t *advert = self->adverts;
    while (advert && strcmp (advert->channel.name, channel->name) != 0)
        advert = advert->next;
    if (!advert && (advert = calloc (1, sizeof *advert))) {
        advert->owner = self;
        advert->channel = *channel;
        advert->state = "waiting for avahi-daemon";
        s_advert_name (self, advert);
        advert->next = self->adverts;
        self->adverts = advert;
        s_advert_commit (advert);
    }
    avahi_threaded_poll_unlock (self->poll);
}

void
nws_avahi_withdraw (nws_avahi_t *self, const nws_channel_t *channel)
{
    avahi_threaded_poll_lock (self->poll);
    for (s_advert_t **p = &self->adverts; *p; p = &(*p)->next) {
        s_advert_t *advert = *p;
        if (strcmp (advert->channel.name, channel->name) != 0)
            continue;
        *p = advert->next;
        //  Freeing the group sends the goodbye packets at once.
        if (advert->group)
            avahi_entry_group_free (advert->group);
        nws_info ("withdrew the advert of %s", channel->name);
        free (advert);
        break;
    }
    avahi_threaded_poll_unlock (self->poll);
}

static int
s_is_ours (nws_avahi_t *self, const char *instance)
{
    for (s_advert_t *advert = self->adverts; advert; advert = advert->next)
        if (strcmp (advert->instance, instance) == 0)
            return 1;
    return 0;
}

//  ---------------------------------------------------------------------
//  Their adverts

//  Resolves one sighting; after a failure, waits and tries again.
static void s_sighting_resolve (s_sighting_t *sighting);

static s_remote_t *
s_remote_find (nws_avahi_t *self, const char *instance)
{
    s_remote_t *remote = self->remotes;
    while (remote && strcmp (remote->instance, instance) != 0)
        remote = remote->next;
    return remote;
}

static const char *
s_protocol_name (AvahiProtocol protocol)
{
    return protocol == AVAHI_PROTO_INET ? "IPv4" : protocol == AVAHI_PROTO_INET6 ? "IPv6" : "?";
}

//  "mh0/IPv6": where a sighting was made, for log lines.
static void
s_sighting_where (s_sighting_t *sighting, char *buf, size_t cap)
{
    char name [IF_NAMESIZE];
    if (!if_indextoname ((unsigned) sighting->interface, name))
        snprintf (name, sizeof name, "if%d", sighting->interface);
    snprintf (buf, cap, "%s/%s", name, s_protocol_name (sighting->protocol));
}

static void
s_sighting_stop (s_sighting_t *sighting)
{
    nws_avahi_t *self = sighting->remote->owner;
    const AvahiPoll *api = avahi_threaded_poll_get (self->poll);
    if (sighting->resolver)
        avahi_service_resolver_free (sighting->resolver);
    sighting->resolver = NULL;
    if (sighting->retry)
        api->timeout_free (sighting->retry);
    sighting->retry = NULL;
}

int
nws_avahi_rank (const char *address)
{
    struct in6_addr v6;
    struct in_addr v4;
    char plain [NWS_AVAHI_ADDRESS_MAX];
    snprintf (plain, sizeof plain, "%s", address);
    char *scope = strchr (plain, '%');
    if (scope)
        *scope = '\0';
    if (inet_pton (AF_INET, plain, &v4) == 1)
        return 0;
    if (inet_pton (AF_INET6, plain, &v6) == 1)
        return IN6_IS_ADDR_LINKLOCAL (&v6) ? 2 : 1;
    return 3;
}

//  Fills event with what the remote's sightings found: the port and
//  channel of the best address, and every address that agrees with them,
//  best first. Returns the number of addresses.
static int
s_remote_collect (s_remote_t *remote, nws_avahi_event_t *event)
{
    memset (event, 0, sizeof *event);
    event->type = NWS_AVAHI_FOUND;
    memcpy (event->instance, remote->instance, sizeof event->instance);
    s_sighting_t *best = NULL;
    for (int i = 0; i < S_SIGHTINGS; i++) {
        s_sighting_t *s = &remote->sightings [i];
        if (s->used && s->found && (!best || nws_avahi_rank (s->address) < nws_avahi_rank (best->address)))
            best = s;
    }
    if (!best)
        return 0;
    event->port = best->port;
    event->channel = best->channel;
    for (int rank = 0; rank <= 3; rank++)
        for (int i = 0; i < S_SIGHTINGS && event->address_count < NWS_AVAHI_ADDRESSES; i++) {
            s_sighting_t *s = &remote->sightings [i];
            if (!s->used || !s->found || nws_avahi_rank (s->address) != rank
            ||  s->port != best->port || strcmp (s->channel.name, best->channel.name) != 0)
                continue;
            int dup = 0;
            for (int k = 0; k < event->address_count; k++)
                dup |= strcmp (event->addresses [k], s->address) == 0;
            if (!dup)
                memcpy (event->addresses [event->address_count++], s->address,
                        NWS_AVAHI_ADDRESS_MAX);
        }
    return event->address_count;
}

//  Posts FOUND when what the sightings found changed since the last post.
static void
s_remote_report (s_remote_t *remote)
{
    nws_avahi_event_t event;
    if (s_remote_collect (remote, &event) == 0)
        return;     //  nothing resolved (yet): what was reported stands
    if (remote->reported && memcmp (&event, &remote->last, sizeof event) == 0)
        return;
    remote->last = event;
    remote->reported = 1;
    s_post (remote->owner, &event);
}

static void
s_remote_drop (nws_avahi_t *self, s_remote_t *remote)
{
    for (s_remote_t **p = &self->remotes; *p; p = &(*p)->next)
        if (*p == remote) {
            *p = remote->next;
            break;
        }
    if (remote->reported) {
        nws_avahi_event_t event = { .type = NWS_AVAHI_LOST };
        memcpy (event.instance, remote->instance, sizeof event.instance);
        s_post (self, &event);
    }
    for (int i = 0; i < S_SIGHTINGS; i++)
        if (remote->sightings [i].used)
            s_sighting_stop (&remote->sightings [i]);
    free (remote);
}

static void
s_on_retry (AvahiTimeout *timer, void *arg)
{
    s_sighting_t *sighting = arg;
    const AvahiPoll *api = avahi_threaded_poll_get (sighting->remote->owner->poll);
    api->timeout_free (timer);
    sighting->retry = NULL;
    s_sighting_resolve (sighting);
}

//  A resolve failed: try this sighting again later, 1 s doubling to 30 s.
//  The first failure is a warning; the retries speak only in debug.
static void
s_sighting_failed (s_sighting_t *sighting, const char *why)
{
    nws_avahi_t *self = sighting->remote->owner;
    char where [IF_NAMESIZE + 8];
    s_sighting_where (sighting, where, sizeof where);
    unsigned secs = S_RESOLVE_RETRY_MIN_SECS << (sighting->failures < 5 ? sighting->failures : 5);
    if (secs > S_RESOLVE_RETRY_MAX_SECS)
        secs = S_RESOLVE_RETRY_MAX_SECS;
    if (sighting->failures++ == 0)
        nws_warn ("cannot resolve advert '%s' seen on %s: %s; trying again in %u s",
                  sighting->remote->instance, where, why, secs);
    else
        nws_debug ("cannot resolve advert '%s' seen on %s: %s (%u times); trying again in %u s",
                   sighting->remote->instance, where, why, sighting->failures, secs);
    const AvahiPoll *api = avahi_threaded_poll_get (self->poll);
    struct timeval when;
    avahi_elapse_time (&when, secs * 1000, 0);
    if (!sighting->retry)
        sighting->retry = api->timeout_new (api, &when, s_on_retry, sighting);
}

//  Reads one TXT string into channel: the path of an open advert, or the
//  tag of a private one, carried as the name of a pseudo channel that
//  the owner maps to its own (nws_avahi.h).
static int
s_parse_txt (nws_avahi_t *self, const void *record, size_t len, nws_channel_t *channel)
{
    if (!self->key)
        return nws_advert_parse_txt (record, len, channel);
    char tag [NWS_ADVERT_TAG_HEX + 1];
    int rc = nws_advert_parse_tag (record, len, tag);
    if (rc == 0) {
        memset (channel, 0, sizeof *channel);
        channel->scope = NWS_SCOPE_BROADCAST;
        channel->name_len = NWS_ADVERT_TAG_HEX;
        memcpy (channel->name, tag, sizeof tag);
    }
    return rc;
}

static void
s_on_resolve (AvahiServiceResolver *resolver, AvahiIfIndex interface, AvahiProtocol protocol,
              AvahiResolverEvent event, const char *name, const char *type, const char *domain,
              const char *host, const AvahiAddress *address, uint16_t port,
              AvahiStringList *txt, AvahiLookupResultFlags flags, void *arg)
{
    s_sighting_t *sighting = arg;
    s_remote_t *remote = sighting->remote;
    nws_avahi_t *self = remote->owner;
    (void) protocol, (void) name, (void) type, (void) domain;
    if (event != AVAHI_RESOLVER_FOUND) {
        //  The resolver is spent: free it, keep what it found before (the
        //  link may still work), and try again later.
        avahi_service_resolver_free (resolver);
        sighting->resolver = NULL;
        s_sighting_failed (sighting, avahi_strerror (avahi_client_errno (self->client)));
        return;
    }
    //  The resolver stays open and calls again when the records change.
    sighting->failures = 0;
    if (flags & AVAHI_LOOKUP_RESULT_OUR_OWN)
        return;
    nws_channel_t channel;
    int paths = 0, valid = 0;
    for (AvahiStringList *item = txt; item; item = avahi_string_list_get_next (item)) {
        int rc = s_parse_txt (self, avahi_string_list_get_text (item),
                              avahi_string_list_get_size (item), &channel);
        paths += rc != -ENOENT;
        valid += rc == 0;
    }
    char text [AVAHI_ADDRESS_STR_MAX] = "";
    if (address)
        avahi_address_snprint (text, sizeof text, address);
    const char *why = port == 0 ? "port 0"
                    : paths == 0 ? (self->key ? "no TXT tag" : "no TXT path")
                    : paths > 1 ? (self->key ? "several TXT tags" : "several TXT paths")
                    : !valid ? (self->key ? "TXT tag is not 32 hex digits"
                                          : "TXT path is not /broadcast/<valid name>")
                    : !address || (address->proto != AVAHI_PROTO_INET
                                   && address->proto != AVAHI_PROTO_INET6) ? "no address" : NULL;
    if (why) {
        char where [IF_NAMESIZE + 8];
        s_sighting_where (sighting, where, sizeof where);
        nws_warn ("ignoring advert '%s' of %s seen on %s: %s", remote->instance,
                  host ? host : "?", where, why);
        sighting->found = 0;
        return;
    }
    //  A link-local IPv6 address means nothing without its interface.
    if (address->proto == AVAHI_PROTO_INET6 && nws_avahi_rank (text) == 2)
        snprintf (sighting->address, sizeof sighting->address, "%s%%%d", text, (int) interface);
    else
        snprintf (sighting->address, sizeof sighting->address, "%s", text);
    sighting->port = port;
    sighting->channel = channel;
    sighting->found = 1;
    s_remote_report (remote);
}

static void
s_sighting_resolve (s_sighting_t *sighting)
{
    nws_avahi_t *self = sighting->remote->owner;
    if (!self->running || !self->client || sighting->resolver)
        return;
    //  Ask for the address family of the protocol it was seen on: avahi's
    //  defaults publish A records only over IPv4 mDNS (AAAA over both),
    //  so asking an IPv6 sighting for IPv4 just times out.
    sighting->resolver = avahi_service_resolver_new (self->client, sighting->interface,
                                                     sighting->protocol, sighting->remote->instance,
                                                     self->type, "local", sighting->protocol,
                                                     0, s_on_resolve, sighting);
    if (!sighting->resolver)
        s_sighting_failed (sighting, avahi_strerror (avahi_client_errno (self->client)));
}

static void
s_on_browse (AvahiServiceBrowser *browser, AvahiIfIndex interface, AvahiProtocol protocol,
             AvahiBrowserEvent event, const char *name, const char *type, const char *domain,
             AvahiLookupResultFlags flags, void *arg)
{
    nws_avahi_t *self = arg;
    (void) browser, (void) type, (void) domain;
    if (event == AVAHI_BROWSER_FAILURE) {
        nws_warn ("browsing failed: %s", avahi_strerror (avahi_client_errno (self->client)));
        return;
    }
    if (event != AVAHI_BROWSER_NEW && event != AVAHI_BROWSER_REMOVE)
        return;
    if (!name || s_is_ours (self, name) || (flags & AVAHI_LOOKUP_RESULT_OUR_OWN))
        return;
    //  Other _ws._tcp services are common on a LAN: say so only in debug.
    int valid = self->key ? nws_advert_private_instance_valid (name)
                          : nws_advert_instance_valid (name);
    if (strlen (name) >= sizeof ((s_remote_t *) 0)->instance || !valid) {
        if (event == AVAHI_BROWSER_NEW)
            nws_debug ("ignoring advert '%.80s': not %s", name,
                       self->key ? "<number>" : "<number>.<name>._bws");
        return;
    }
    s_remote_t *remote = s_remote_find (self, name);
    s_sighting_t *sighting = NULL;
    for (int i = 0; remote && i < S_SIGHTINGS; i++) {
        s_sighting_t *s = &remote->sightings [i];
        if (s->used && s->interface == interface && s->protocol == protocol)
            sighting = s;
    }
    if (event == AVAHI_BROWSER_REMOVE) {
        if (!sighting || remote->stale)
            return;
        s_sighting_stop (sighting);
        memset (sighting, 0, sizeof *sighting);
        int left = 0;
        for (int i = 0; i < S_SIGHTINGS; i++)
            left += remote->sightings [i].used;
        if (left == 0)
            s_remote_drop (self, remote);
        else
            s_remote_report (remote);
        return;
    }
    if (!remote) {
        remote = calloc (1, sizeof *remote);
        if (!remote)
            return;
        remote->owner = self;
        strcpy (remote->instance, name);
        remote->next = self->remotes;
        self->remotes = remote;
    }
    if (remote->stale) {
        //  Seen again after the daemon came back: what was reported stands
        //  until the new sightings resolve.
        remote->stale = 0;
        memset (remote->sightings, 0, sizeof remote->sightings);
    }
    if (sighting)
        return;
    for (int i = 0; i < S_SIGHTINGS && !sighting; i++)
        if (!remote->sightings [i].used)
            sighting = &remote->sightings [i];
    if (!sighting) {
        nws_debug ("advert '%s': more than %d sightings; ignoring one more", name, S_SIGHTINGS);
        return;
    }
    sighting->used = 1;
    sighting->remote = remote;
    sighting->interface = interface;
    sighting->protocol = protocol;
    s_sighting_resolve (sighting);
}

//  ---------------------------------------------------------------------
//  The daemon coming and going

static void
s_on_sweep (AvahiTimeout *timer, void *arg)
{
    nws_avahi_t *self = arg;
    (void) timer;
    s_remote_t *remote = self->remotes;
    while (remote) {
        s_remote_t *next = remote->next;
        if (remote->stale)
            s_remote_drop (self, remote);
        remote = next;
    }
}

static void
s_set_timer (nws_avahi_t *self, int secs, AvahiTimeoutCallback callback)
{
    const AvahiPoll *api = avahi_threaded_poll_get (self->poll);
    struct timeval when;
    avahi_elapse_time (&when, (unsigned) secs * 1000, 0);
    if (self->timer)
        api->timeout_free (self->timer);
    self->timer = api->timeout_new (api, &when, callback, self);
}

static void
s_on_running (nws_avahi_t *self)
{
    self->running = 1;
    nws_info ("avahi-daemon is available: advertising %s and browsing %s",
              self->adverts ? "our channels" : "nothing yet", self->type);
    if (!self->browser) {
        self->browser = avahi_service_browser_new (self->client, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC,
                                                   self->type, NULL, 0, s_on_browse, self);
        if (!self->browser)
            nws_warn ("avahi_service_browser_new: %s",
                      avahi_strerror (avahi_client_errno (self->client)));
    }
    for (s_advert_t *advert = self->adverts; advert; advert = advert->next)
        if (!advert->group || avahi_entry_group_is_empty (advert->group))
            s_advert_commit (advert);
    if (self->remotes)
        s_set_timer (self, NWS_AVAHI_STALE_SECS, s_on_sweep);
}

static void
s_on_reconnect (AvahiTimeout *timer, void *arg)
{
    (void) timer;
    s_client_start (arg);
}

//  The daemon went away: everything made through the client is void.
//  Remote adverts are kept (marked stale) so their links keep working.
static void
s_on_disconnect (nws_avahi_t *self)
{
    nws_warn ("lost avahi-daemon; waiting for it to come back");
    self->running = 0;
    self->browser = NULL;
    for (s_advert_t *advert = self->adverts; advert; advert = advert->next) {
        advert->group = NULL;
        advert->state = "waiting for avahi-daemon";
    }
    //  Resolvers die with the client; retry timers belong to the poll.
    const AvahiPoll *api = avahi_threaded_poll_get (self->poll);
    for (s_remote_t *remote = self->remotes; remote; remote = remote->next) {
        for (int i = 0; i < S_SIGHTINGS; i++) {
            s_sighting_t *sighting = &remote->sightings [i];
            sighting->resolver = NULL;
            if (sighting->retry)
                api->timeout_free (sighting->retry);
            sighting->retry = NULL;
        }
        remote->stale = 1;
    }
    avahi_client_free (self->client);
    self->client = NULL;
    s_set_timer (self, 0, s_on_reconnect);
}

static void
s_on_client (AvahiClient *client, AvahiClientState state, void *arg)
{
    nws_avahi_t *self = arg;
    self->client = client;
    switch (state) {
        case AVAHI_CLIENT_S_RUNNING:
            s_on_running (self);
            break;
        case AVAHI_CLIENT_S_COLLISION:
        case AVAHI_CLIENT_S_REGISTERING:
            //  The host name changes: adverts go again once it settles.
            for (s_advert_t *advert = self->adverts; advert; advert = advert->next)
                if (advert->group)
                    avahi_entry_group_reset (advert->group);
            break;
        case AVAHI_CLIENT_FAILURE:
            if (avahi_client_errno (client) == AVAHI_ERR_DISCONNECTED)
                s_on_disconnect (self);
            else
                nws_error ("avahi client failed: %s", avahi_strerror (avahi_client_errno (client)));
            break;
        case AVAHI_CLIENT_CONNECTING:
            nws_info ("waiting for avahi-daemon");
            break;
    }
}

//  Creates the client. NO_FAIL covers an absent avahi-daemon, not an
//  absent D-Bus: then try again every few seconds, saying so once.
static void
s_client_start (nws_avahi_t *self)
{
    int error = 0;
    AvahiClient *client = avahi_client_new (avahi_threaded_poll_get (self->poll),
                                            AVAHI_CLIENT_NO_FAIL, s_on_client, self, &error);
    if (client) {
        self->client = client;
        self->retrying = 0;
        return;
    }
    if (!self->retrying)
        nws_warn ("cannot reach avahi-daemon (%s); trying again every %d s",
                  avahi_strerror (error), S_RETRY_SECS);
    self->retrying = 1;
    s_set_timer (self, S_RETRY_SECS, s_on_reconnect);
}

nws_avahi_t *
nws_avahi_new (uint16_t port, const nws_netkey_t *key, void (*wake) (void *arg), void *arg)
{
    nws_avahi_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->port = port;
    self->key = key;
    self->type = key ? NWS_ADVERT_PRIVATE_TYPE : NWS_ADVERT_TYPE;
    self->wake = wake;
    self->arg = arg;
    pthread_mutex_init (&self->mutex, NULL);
    self->poll = avahi_threaded_poll_new ();
    if (!self->poll) {
        nws_error ("avahi_threaded_poll_new failed");
        nws_avahi_destroy (&self);
        return NULL;
    }
    if (avahi_threaded_poll_start (self->poll) < 0) {
        nws_error ("avahi_threaded_poll_start failed");
        nws_avahi_destroy (&self);
        return NULL;
    }
    avahi_threaded_poll_lock (self->poll);
    s_client_start (self);
    avahi_threaded_poll_unlock (self->poll);
    return self;
}

void
nws_avahi_status (nws_avahi_t *self, nws_text_t *out)
{
    avahi_threaded_poll_lock (self->poll);
    nws_text_printf (out, "\"daemon\":\"%s\",\"adverts\":[", self->running ? "running" : "absent");
    for (s_advert_t *advert = self->adverts; advert; advert = advert->next)
        nws_text_printf (out, "{\"channel\":\"%s\",\"instance\":\"%s\",\"state\":\"%s\"}%s",
                         advert->channel.name, advert->instance, advert->state,
                         advert->next ? "," : "");
    nws_text_printf (out, "]");
    avahi_threaded_poll_unlock (self->poll);
}

void
nws_avahi_destroy (nws_avahi_t **self_p)
{
    nws_avahi_t *self = *self_p;
    if (!self)
        return;
    if (self->poll)
        avahi_threaded_poll_stop (self->poll);
    //  Freeing the client frees its groups (goodbye packets), browser and
    //  resolvers.
    if (self->client)
        avahi_client_free (self->client);
    if (self->poll)
        avahi_threaded_poll_free (self->poll);
    while (self->adverts) {
        s_advert_t *next = self->adverts->next;
        free (self->adverts);
        self->adverts = next;
    }
    while (self->remotes) {
        s_remote_t *next = self->remotes->next;
        free (self->remotes);
        self->remotes = next;
    }
    nws_avahi_event_t event;
    while (nws_avahi_next (self, &event))
        ;
    pthread_mutex_destroy (&self->mutex);
    free (self);
    *self_p = NULL;
}
