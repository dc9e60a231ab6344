/* srv_mhd.c — libmicrohttpd opened at run time. Linking it pulls GnuTLS
 * and eight more libraries into every process, and their loading and
 * constructors cost ~1.7 ms of each `scanlite predict` that never serves
 * HTTP. So the binary is not linked against it: the MHD_* functions the
 * server calls are defined here (same prototypes as <microhttpd.h>) and
 * forward to the library, which the first of them dlopen()s (Debian's
 * libmicrohttpd12; the -dev package provides the header). Not exported
 * (the binary is not linked with -rdynamic), so the library's internal
 * calls never land here. Before the library is open the functions fail
 * like the library would on bad arguments (NULL, MHD_NO). */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>

#include "srv.h"

#define SRV_MHD_SONAME "libmicrohttpd.so.12"

static struct {
    struct MHD_Daemon *(*start_daemon_va)(unsigned int, uint16_t, MHD_AcceptPolicyCallback, void *,
                                          MHD_AccessHandlerCallback, void *, va_list);
    void (*stop_daemon)(struct MHD_Daemon *);
    MHD_socket (*quiesce_daemon)(struct MHD_Daemon *);
    const union MHD_DaemonInfo *(*get_daemon_info)(struct MHD_Daemon *, enum MHD_DaemonInfoType, ...);
    const union MHD_ConnectionInfo *(*get_connection_info)(struct MHD_Connection *,
                                                           enum MHD_ConnectionInfoType, ...);
    const char *(*lookup_connection_value)(struct MHD_Connection *, enum MHD_ValueKind, const char *);
    enum MHD_Result (*queue_response)(struct MHD_Connection *, unsigned int, struct MHD_Response *);
    struct MHD_Response *(*create_response_from_buffer)(size_t, void *, enum MHD_ResponseMemoryMode);
    struct MHD_Response *(*create_response_from_buffer_with_free_callback)(
        size_t, void *, MHD_ContentReaderFreeCallback);
    struct MHD_Response *(*create_response_from_callback)(uint64_t, size_t, MHD_ContentReaderCallback,
                                                          void *, MHD_ContentReaderFreeCallback);
    enum MHD_Result (*add_response_header)(struct MHD_Response *, const char *, const char *);
    void (*destroy_response)(struct MHD_Response *);
} api;

static pthread_once_t api_once = PTHREAD_ONCE_INIT;
static int api_ok;
static char api_err[256];

static void api_open(void)
{
    void *h = dlopen(SRV_MHD_SONAME, RTLD_NOW | RTLD_LOCAL);
    const char *missing = NULL;
    if (!h) {
        snprintf(api_err, sizeof api_err, "%s", dlerror());
        return;
    }
#define SRV_MHD_SYM(f)                                  \
    if (!missing && !(*(void **)&api.f = dlsym(h, "MHD_" #f))) \
        missing = "MHD_" #f;
    SRV_MHD_SYM(start_daemon_va)
    SRV_MHD_SYM(stop_daemon)
    SRV_MHD_SYM(quiesce_daemon)
    SRV_MHD_SYM(get_daemon_info)
    SRV_MHD_SYM(get_connection_info)
    SRV_MHD_SYM(lookup_connection_value)
    SRV_MHD_SYM(queue_response)
    SRV_MHD_SYM(create_response_from_buffer)
    SRV_MHD_SYM(create_response_from_buffer_with_free_callback)
    SRV_MHD_SYM(create_response_from_callback)
    SRV_MHD_SYM(add_response_header)
    SRV_MHD_SYM(destroy_response)
#undef SRV_MHD_SYM
    if (missing) {
        snprintf(api_err, sizeof api_err, "%s: no symbol %s", SRV_MHD_SONAME, missing);
        dlclose(h);
        return;
    }
    api_ok = 1;     /* h stays open for the life of the process */
}

int srv_mhd_open(char *err, size_t len)
{
    pthread_once(&api_once, api_open);
    if (!api_ok && err && len)
        snprintf(err, len, "%s", api_err);
    return api_ok ? 0 : -1;
}

static int ready(void)
{
    return srv_mhd_open(NULL, 0) == 0;
}

struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port, MHD_AcceptPolicyCallback apc,
                                    void *apc_cls, MHD_AccessHandlerCallback dh, void *dh_cls, ...)
{
    struct MHD_Daemon *d;
    va_list ap;
    if (!ready())
        return NULL;
    va_start(ap, dh_cls);
    d = api.start_daemon_va(flags, port, apc, apc_cls, dh, dh_cls, ap);
    va_end(ap);
    return d;
}

void MHD_stop_daemon(struct MHD_Daemon *daemon)
{
    if (ready())
        api.stop_daemon(daemon);
}

MHD_socket MHD_quiesce_daemon(struct MHD_Daemon *daemon)
{
    return ready() ? api.quiesce_daemon(daemon) : MHD_INVALID_SOCKET;
}

/* The info types the server asks for take no extra arguments. */
const union MHD_DaemonInfo *MHD_get_daemon_info(struct MHD_Daemon *daemon,
                                                enum MHD_DaemonInfoType info_type, ...)
{
    return ready() ? api.get_daemon_info(daemon, info_type) : NULL;
}

const union MHD_ConnectionInfo *MHD_get_connection_info(struct MHD_Connection *connection,
                                                        enum MHD_ConnectionInfoType info_type, ...)
{
    return ready() ? api.get_connection_info(connection, info_type) : NULL;
}

const char *MHD_lookup_connection_value(struct MHD_Connection *connection, enum MHD_ValueKind kind,
                                        const char *key)
{
    return ready() ? api.lookup_connection_value(connection, kind, key) : NULL;
}

enum MHD_Result MHD_queue_response(struct MHD_Connection *connection, unsigned int status_code,
                                   struct MHD_Response *response)
{
    return ready() ? api.queue_response(connection, status_code, response) : MHD_NO;
}

struct MHD_Response *MHD_create_response_from_buffer(size_t size, void *buffer,
                                                     enum MHD_ResponseMemoryMode mode)
{
    return ready() ? api.create_response_from_buffer(size, buffer, mode) : NULL;
}

struct MHD_Response *MHD_create_response_from_buffer_with_free_callback(
    size_t size, void *buffer, MHD_ContentReaderFreeCallback crfc)
{
    return ready() ? api.create_response_from_buffer_with_free_callback(size, buffer, crfc) : NULL;
}

struct MHD_Response *MHD_create_response_from_callback(uint64_t size, size_t block_size,
                                                       MHD_ContentReaderCallback crc, void *crc_cls,
                                                       MHD_ContentReaderFreeCallback crfc)
{
    return ready() ? api.create_response_from_callback(size, block_size, crc, crc_cls, crfc) : NULL;
}

enum MHD_Result MHD_add_response_header(struct MHD_Response *response, const char *header,
                                        const char *content)
{
    return ready() ? api.add_response_header(response, header, content) : MHD_NO;
}

void MHD_destroy_response(struct MHD_Response *response)
{
    if (ready())
        api.destroy_response(response);
}
