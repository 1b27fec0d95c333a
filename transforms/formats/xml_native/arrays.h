/* Arrow string arrays read from their buffers (buffer protocol, no copy), checked before they are read raw. */

#ifndef XML_NATIVE_ARRAYS_H
#define XML_NATIVE_ARRAYS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

typedef struct {
    Py_buffer offsets, data;
    const int32_t *at;        /* the array's offsets, from its first value */
    Py_ssize_t length;
} Strings;

static int open_strings(Strings *s, PyObject *offsets, PyObject *data, Py_ssize_t offset, Py_ssize_t length)
{
    memset(s, 0, sizeof(*s));
    if (PyObject_GetBuffer(offsets, &s->offsets, PyBUF_SIMPLE))
        return -1;
    if (PyObject_GetBuffer(data, &s->data, PyBUF_SIMPLE)) {
        PyBuffer_Release(&s->offsets);
        return -1;
    }
    if (offset < 0 || length < 0 || (size_t)s->offsets.len < (offset + length + 1) * sizeof(int32_t)) {
        PyErr_SetString(PyExc_ValueError, "the offsets buffer is shorter than the array");
        goto fail;
    }
    s->at = (const int32_t *)s->offsets.buf + offset;
    s->length = length;
    for (Py_ssize_t i = 0; i < length; i++)   /* Arrow's offsets never go back; checked, as they are read raw */
        if (s->at[i] < 0 || s->at[i + 1] < s->at[i]) {
            PyErr_SetString(PyExc_ValueError, "the offsets are not an Arrow string array's");
            goto fail;
        }
    if (length && s->at[length] > s->data.len) {
        PyErr_SetString(PyExc_ValueError, "the offsets point outside the data buffer");
        goto fail;
    }
    return 0;
fail:
    PyBuffer_Release(&s->offsets);
    PyBuffer_Release(&s->data);
    return -1;
}

static void close_strings(Strings *s)
{
    if (s->offsets.obj)
        PyBuffer_Release(&s->offsets);
    if (s->data.obj)
        PyBuffer_Release(&s->data);
}

static inline const unsigned char *value_at(const Strings *s, Py_ssize_t i, const unsigned char **end)
{
    const unsigned char *data = s->data.buf;
    *end = data + s->at[i + 1];
    return data + s->at[i];
}

#endif
