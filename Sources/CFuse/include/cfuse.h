// The C side of the FUSE bridge: the only place FUSE_USE_VERSION is chosen.
//
// Swift cannot call libfuse's versioned symbols (fuse_new and fuse_loop_mt are macros that pick
// a symbol per FUSE_USE_VERSION), nor reach the bitfields of fuse_file_info reliably, so those
// go through these small wrappers. Everything else Swift calls directly.
#pragma once

#define FUSE_USE_VERSION 312
#include <fuse3/fuse.h>
#include <fuse3/fuse_lowlevel.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

// fuse_new with argv[0..argc); argv stays owned by the caller and must outlive the fuse object.
// The connection options (max_write, max_readahead, sync_read, ...) are taken out of the
// arguments first, as libfuse requires, and returned in *connection_options (NULL on error) for
// cfuse_apply_connection_options in the init callback; free them with free().
struct fuse *cfuse_new(int argc, char **argv, const struct fuse_operations *operations, void *private_data,
                       struct fuse_conn_info_opts **connection_options);

// Applies what cfuse_new parsed to the connection being set up (call from init).
void cfuse_apply_connection_options(struct fuse_conn_info_opts *options, struct fuse_conn_info *conn);

// fuse_loop_mt with a loop configuration; max_threads/max_idle_threads <= 0 keep libfuse's defaults.
int cfuse_loop_mt(struct fuse *fuse, int clone_fd, int max_threads, int max_idle_threads);

// The private_data given to cfuse_new, from inside a callback.
void *cfuse_private_data(void);

// The caller of the current request.
uid_t cfuse_context_uid(void);
gid_t cfuse_context_gid(void);
pid_t cfuse_context_pid(void);

void cfuse_file_info_set_keep_cache(struct fuse_file_info *info, int value);
void cfuse_file_info_set_direct_io(struct fuse_file_info *info, int value);
void cfuse_file_info_set_nonseekable(struct fuse_file_info *info, int value);

// Asks the kernel for up to `bytes` per read request where it supports it (max_pages).
void cfuse_conn_request_large_io(struct fuse_conn_info *conn, unsigned bytes);

// UTIME_NOW and UTIME_OMIT are macros with casts that Swift does not import.
static const long cfuse_utime_now = UTIME_NOW;
static const long cfuse_utime_omit = UTIME_OMIT;

// Asks libfuse to splice read replies into /dev/fuse (FUSE_CAP_SPLICE_WRITE, with page moving)
// where the kernel offers it; a user's no_splice_write still wins (options are applied after).
void cfuse_conn_want_splice_write(struct fuse_conn_info *conn);

// This thread's reply pipe, room for at least `capacity` bytes, created on first use and closed
// when the thread ends. Returns 0 and the two ends, or -1 when the caller should copy instead:
// the pipe cannot be made that large, or it could then hold as many buffers as the pipe libfuse
// splices the reply through (see cfuse.c).
int cfuse_thread_reply_pipe(size_t capacity, int *read_end, int *write_end);

// Throws away whatever a failed reply left in this thread's pipe.
void cfuse_thread_reply_pipe_discard(void);

// A read_buf reply for libfuse, which frees it (and `memory`, malloc'd) after replying: first
// `piped` bytes from the pipe's read end `pipe_read_end`, then `memory_count` bytes at `memory`.
// Either part may be empty. NULL when out of memory.
struct fuse_bufvec *cfuse_read_reply(int pipe_read_end, size_t piped, void *memory, size_t memory_count);
