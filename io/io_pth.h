/* io_pth.h — PyTorch state_dict reader (zip container of torch >= 1.6 and
 * legacy pickle files, decoded without torch) and the builders of the
 * torchvision architectures it recognises from the keys. */
#ifndef IO_PTH_H
#define IO_PTH_H

#include <stddef.h>

#include "../nn/nn_graph.h"
#include "../nn/nn_status.h"

#define IO_PTH_MAX_FILE ((size_t)4 << 30)

/* arch: NULL or "" to recognise from the keys, else "resnet18",
 * "resnet34", "resnet50". Input 3x224x224 (batch NN_DIM_BATCH), output
 * "logits" [N, classes] with classes from fc.weight. Accepts a `module.`
 * prefix and a dict wrapping the state_dict under "state_dict" or "model". */
nn_status io_pth_read(const void *buf, size_t len, const char *arch, nn_graph **out, nn_err *e);
/* 1 when buf starts like a PyTorch checkpoint (a zip archive, or a legacy
 * pickle of protocol 2-5), else 0 (e.g. an ONNX protobuf). */
int io_pth_detect(const void *buf, size_t len);

#endif
