/* srv_multipart.h — a bounded multipart/form-data parser (RFC 7578) over a
 * body already in memory. Part data point into the body (not copied);
 * header values are copied, truncated names are refused. */
#ifndef SRV_MULTIPART_H
#define SRV_MULTIPART_H

#include <stddef.h>

#define SRV_MP_MAX_PARTS 80          /* files plus a few fields */
#define SRV_MP_MAX_HEADER 8192       /* bytes of one part's header block */
#define SRV_MP_BOUNDARY_MAX 70       /* RFC 2046 */

typedef struct srv_part {
    char name[64];
    char filename[256];
    int has_filename;
    char ctype[128];        /* "" when the part has no Content-Type */
    const char *data;
    size_t len;
} srv_part;

/* Extracts the boundary parameter of a multipart Content-Type into
 * out[SRV_MP_BOUNDARY_MAX + 1]; 0 on success. */
int srv_multipart_boundary(const char *content_type, char *out);
/* Splits body into parts; 0 on success, -1 with a reason in err. */
int srv_multipart_parse(const char *body, size_t len, const char *boundary, srv_part *parts,
                        int max_parts, int *nparts, char *err, size_t errlen);

#endif
