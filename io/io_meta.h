/* io_meta.h — metadata keys of a scanlite model (docs/FORMAT.md, section
 * "Metadata"). Values are UTF-8 strings; numbers are written in C locale. */
#ifndef IO_META_H
#define IO_META_H

#define IO_META_NAME "name"                 /* display name */
#define IO_META_TASK "task"                 /* "classification" */
#define IO_META_LABELS "labels"             /* one label per line ('\n'-separated) */
#define IO_META_INPUT_SHAPE "input_shape"   /* per-sample "CxHxW", e.g. "3x224x224" */
#define IO_META_COLOR "color"               /* "rgb" | "gray" */
#define IO_META_RESIZE "resize"             /* shorter side to N, then crop; "0": stretch to HxW */
#define IO_META_CROP "crop"                 /* center crop size; "0": none */
#define IO_META_SCALE "scale"               /* pixel (0..255) multiplier, e.g. "0.00392156863" */
#define IO_META_MEAN "mean"                 /* per channel, comma-separated, after scale */
#define IO_META_STD "std"                   /* per channel, comma-separated */
#define IO_META_OUTPUT_ACT "output_activation" /* "softmax" | "sigmoid" | "none" */
#define IO_META_SOURCE_FILE "source_file"
#define IO_META_SOURCE_SHA256 "source_sha256"
#define IO_META_CONVERTER "converter_version"

#endif
