#define _GNU_SOURCE
#include "cfuse.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

struct fuse *cfuse_new(int argc, char **argv, const struct fuse_operations *operations, void *private_data,
                       struct fuse_conn_info_opts **connection_options) {
    struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
    *connection_options = fuse_parse_conn_info_opts(&args);
    if (*connection_options == NULL) {
        fuse_opt_free_args(&args);
        return NULL;
    }
    struct fuse *fuse = fuse_new(&args, operations, sizeof(*operations), private_data);
    // When fuse_new rewrote the arguments it owns a copy of them (argv and strings): free it.
    // The caller's own argv is never freed here.
    fuse_opt_free_args(&args);
    return fuse;
}

int cfuse_loop_mt(struct fuse *fuse, int clone_fd, int max_threads, int max_idle_threads) {
    struct fuse_loop_config *config = fuse_loop_cfg_create();
    if (config == NULL) {
        return -1;
    }
    fuse_loop_cfg_set_clone_fd(config, clone_fd ? 1 : 0);
    if (max_threads > 0) {
        fuse_loop_cfg_set_max_threads(config, (unsigned)max_threads);
    }
    if (max_idle_threads > 0) {
        fuse_loop_cfg_set_idle_threads(config, (unsigned)max_idle_threads);
    }
    int result = fuse_loop_mt(fuse, config);
    fuse_loop_cfg_destroy(config);
    return result;
}

void cfuse_apply_connection_options(struct fuse_conn_info_opts *options, struct fuse_conn_info *conn) {
    if (options != NULL) {
        fuse_apply_conn_info_opts(options, conn);
    }
}

void *cfuse_private_data(void) { return fuse_get_context()->private_data; }
uid_t cfuse_context_uid(void) { return fuse_get_context()->uid; }
gid_t cfuse_context_gid(void) { return fuse_get_context()->gid; }
pid_t cfuse_context_pid(void) { return fuse_get_context()->pid; }

void cfuse_file_info_set_keep_cache(struct fuse_file_info *info, int value) { info->keep_cache = value ? 1 : 0; }
void cfuse_file_info_set_direct_io(struct fuse_file_info *info, int value) { info->direct_io = value ? 1 : 0; }
void cfuse_file_info_set_nonseekable(struct fuse_file_info *info, int value) { info->nonseekable = value ? 1 : 0; }

void cfuse_conn_request_large_io(struct fuse_conn_info *conn, unsigned bytes) {
    if (conn->max_write > bytes) {
        conn->max_write = bytes;
    }
    conn->max_readahead = bytes;
}

void cfuse_conn_want_splice_write(struct fuse_conn_info *conn) {
    if (conn->capable & FUSE_CAP_SPLICE_WRITE) {
        conn->want |= FUSE_CAP_SPLICE_WRITE;
    }
    if (conn->capable & FUSE_CAP_SPLICE_MOVE) {
        conn->want |= FUSE_CAP_SPLICE_MOVE;
    }
}

// One pipe per libfuse worker thread: a read reply is filled and then spliced on by libfuse on
// the same thread before that thread takes another request, so no reply can see another's bytes.
struct reply_pipe {
    int fds[2];
    size_t capacity;
};

static pthread_key_t reply_pipe_key;
static pthread_once_t reply_pipe_once = PTHREAD_ONCE_INIT;

static void reply_pipe_free(void *value) {
    struct reply_pipe *pipe_ = value;
    close(pipe_->fds[0]);
    close(pipe_->fds[1]);
    free(pipe_);
}

static void reply_pipe_key_create(void) { pthread_key_create(&reply_pipe_key, reply_pipe_free); }

static struct reply_pipe *reply_pipe_current(int create) {
    pthread_once(&reply_pipe_once, reply_pipe_key_create);
    struct reply_pipe *pipe_ = pthread_getspecific(reply_pipe_key);
    if (pipe_ == NULL && create) {
        pipe_ = calloc(1, sizeof(*pipe_));
        if (pipe_ == NULL) {
            return NULL;
        }
        if (pipe2(pipe_->fds, O_CLOEXEC | O_NONBLOCK) != 0) {
            free(pipe_);
            return NULL;
        }
        int size = fcntl(pipe_->fds[1], F_GETPIPE_SZ);
        pipe_->capacity = size > 0 ? (size_t)size : 0;
        pthread_setspecific(reply_pipe_key, pipe_);
    }
    return pipe_;
}

static size_t round_up_to_power_of_two(size_t value) {
    size_t result = 1;
    while (result < value) {
        result <<= 1;
    }
    return result;
}

int cfuse_thread_reply_pipe(size_t capacity, int *read_end, int *write_end) {
    struct reply_pipe *pipe_ = reply_pipe_current(1);
    if (pipe_ == NULL) {
        return -1;
    }
    if (pipe_->capacity < capacity) {
        // libfuse splices a reply from this pipe into a pipe of its own sized for the reply's
        // pages plus a few (its header among them), rounded up to a power of two as the kernel
        // does. A pipe holds a number of buffers, not bytes, and network data comes in
        // fragments: if ours could hold as many buffers as libfuse's, the reply might not fit,
        // and at its first EAGAIN libfuse stops splicing for the rest of the mount. So ours
        // stays smaller than the smallest pipe libfuse uses for a reply it must grow ours for.
        long page = sysconf(_SC_PAGESIZE);
        size_t pages = (capacity + (size_t)page - 1) / (size_t)page;
        size_t ours = round_up_to_power_of_two(pages);
        size_t reply_header = 16;  // struct fuse_out_header
        size_t theirs = round_up_to_power_of_two((capacity + reply_header + (size_t)page - 1) / (size_t)page + 3);
        if (ours >= theirs) {
            return -1;
        }
        // Beyond /proc/sys/fs/pipe-max-size only with CAP_SYS_RESOURCE: then the caller copies.
        int size = fcntl(pipe_->fds[1], F_SETPIPE_SZ, (int)(ours * (size_t)page));
        if (size < 0) {
            return -1;
        }
        pipe_->capacity = (size_t)size;
    }
    *read_end = pipe_->fds[0];
    *write_end = pipe_->fds[1];
    return 0;
}

void cfuse_thread_reply_pipe_discard(void) {
    struct reply_pipe *pipe_ = reply_pipe_current(0);
    if (pipe_ == NULL) {
        return;
    }
    char scratch[65536];
    int waiting = 0;
    while (ioctl(pipe_->fds[0], FIONREAD, &waiting) == 0 && waiting > 0) {
        if (read(pipe_->fds[0], scratch, sizeof(scratch)) <= 0) {
            break;
        }
    }
}

struct fuse_bufvec *cfuse_read_reply(int pipe_read_end, size_t piped, void *memory, size_t memory_count) {
    struct fuse_bufvec *reply = calloc(1, sizeof(struct fuse_bufvec) + sizeof(struct fuse_buf));
    if (reply == NULL) {
        return NULL;
    }
    size_t count = 0;
    if (piped > 0) {
        reply->buf[count].size = piped;
        reply->buf[count].flags = FUSE_BUF_IS_FD;
        reply->buf[count].fd = pipe_read_end;
        count++;
    }
    if (memory_count > 0 || count == 0) {
        reply->buf[count].size = memory_count;
        reply->buf[count].mem = memory;
        count++;
    } else {
        free(memory);
    }
    reply->count = count;
    return reply;
}
