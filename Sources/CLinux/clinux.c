#define _GNU_SOURCE
#include "clinux.h"

#include <fcntl.h>
#include <stddef.h>

ssize_t clinux_splice_socket_to_pipe(int socket, int pipe_write_end, size_t count) {
    return splice(socket, NULL, pipe_write_end, NULL, count, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
}
