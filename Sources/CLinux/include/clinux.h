// Linux system calls that Glibc's Swift module does not import (they need _GNU_SOURCE).
#pragma once

#include <sys/types.h>

// splice(2) from a socket into a pipe's write end, moving pages rather than copying them where
// the kernel can. Never waits for room in the pipe (SPLICE_F_NONBLOCK): a full pipe gives -1 with
// errno EAGAIN. Waiting for the socket follows its SO_RCVTIMEO, as recv does.
ssize_t clinux_splice_socket_to_pipe(int socket, int pipe_write_end, size_t count);
