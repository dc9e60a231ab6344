/* nn_ops.c — the op table built from NN_OP_LIST, and the fused-activation
 * helpers shared by the kernels. */
#include "nn_ops.h"

#include <string.h>

static const nn_op_def *const op_table[NN_OP_COUNT] = {
#define NN_OP_TABLE(E, sym, name, mi, ma) [NN_OP_##E] = &nn_op_##sym,
    NN_OP_LIST(NN_OP_TABLE)
#undef NN_OP_TABLE
};

static const struct {
    const char *name;
    int min_in, max_in;
} op_info[NN_OP_COUNT] = {
#define NN_OP_INFO(E, sym, name, mi, ma) [NN_OP_##E] = {name, mi, ma},
    NN_OP_LIST(NN_OP_INFO)
#undef NN_OP_INFO
};

const nn_op_def *nn_op_get(nn_op_type op)
{
    if ((int)op < 0 || op >= NN_OP_COUNT)
        return NULL;
    return op_table[op];
}

const char *nn_op_name(nn_op_type op)
{
    if ((int)op < 0 || op >= NN_OP_COUNT)
        return "?";
    return op_info[op].name;
}

int nn_op_from_name(const char *name)
{
    for (int i = 0; i < NN_OP_COUNT; i++)
        if (strcmp(op_info[i].name, name) == 0)
            return i;
    return -1;
}

void nn_op_arity(nn_op_type op, int *min_in, int *max_in)
{
    if ((int)op < 0 || op >= NN_OP_COUNT) {
        *min_in = *max_in = 0;
        return;
    }
    *min_in = op_info[op].min_in;
    *max_in = op_info[op].max_in;
}

int nn_op_packed_input(nn_op_type op)
{
    if ((int)op < 0 || op >= NN_OP_COUNT || !op_table[op]->pack)
        return -1;
    return op_info[op].max_in - 1;
}

nn_act_params nn_act_from_node(const nn_node *node)
{
    nn_act_params a;
    a.act = (nn_act)nn_node_get_int(node, "fused_act", NN_ACT_NONE);
    a.lo = nn_node_get_float(node, "fused_min", 0.0f);
    a.hi = nn_node_get_float(node, "fused_max", 6.0f);
    return a;
}

void nn_act_apply(const nn_act_params *a, float *x, int64_t n)
{
    switch (a->act) {
    case NN_ACT_RELU:
        for (int64_t i = 0; i < n; i++)
            x[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    case NN_ACT_CLIP:
        for (int64_t i = 0; i < n; i++) {
            float v = x[i];
            v = v < a->lo ? a->lo : v;
            x[i] = v > a->hi ? a->hi : v;
        }
        break;
    case NN_ACT_NONE:
        break;
    }
}
