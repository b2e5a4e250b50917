#include "cfuse.h"

#include <stdlib.h>

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
