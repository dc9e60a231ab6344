/* srv_web_assets.S — embeds every file of server/web/ (the list is
 * SRV_WEB_FILES in srv_web_files.h) into the binary's read-only data with
 * .incbin, between the global symbols srv_web_<stem>_start and
 * srv_web_<stem>_end. Paths are relative to the repository root, where make
 * runs the assembler. No code here; the stack stays non-executable. */
#include "srv_web_files.h"

        .section .rodata

#define SRV_WEB_EMBED(stem, name, path, ctype)                  \
        .global srv_web_##stem##_start ;                        \
        .global srv_web_##stem##_end ;                          \
        .balign 16 ;                                            \
srv_web_##stem##_start: ;                                       \
        .incbin path ;                                          \
srv_web_##stem##_end: ;

SRV_WEB_FILES(SRV_WEB_EMBED)

        .section .note.GNU-stack,"",@progbits
