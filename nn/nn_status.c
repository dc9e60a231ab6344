/* nn_status.c — error context helpers (see nn_status.h). */
#include "nn_status.h"

#include <stdarg.h>
#include <stdio.h>

nn_status nn_err_set(nn_err *e, nn_status status, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        e->status = status;
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return status;
}

void nn_err_clear(nn_err *e)
{
    if (e) {
        e->status = NN_OK;
        e->msg[0] = '\0';
    }
}

const char *nn_status_str(nn_status s)
{
    switch (s) {
    case NN_OK: return "ok";
    case NN_ERR_NOMEM: return "out of memory";
    case NN_ERR_IO: return "i/o error";
    case NN_ERR_FORMAT: return "format error";
    case NN_ERR_UNSUPPORTED: return "unsupported";
    case NN_ERR_SHAPE: return "shape error";
    case NN_ERR_INVALID: return "invalid argument";
    case NN_ERR_IMAGE: return "image error";
    case NN_ERR_LIMIT: return "limit exceeded";
    }
    return "unknown status";
}
