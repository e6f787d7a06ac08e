/*
 * cowguard.h: the public API of cowguard.
 *
 * Marks data as read-only so that cowguard places it in arenas of its own and
 * freezes it when the process forks. Every call works without the preload:
 * the functions are declared weak, and each call below goes through an inline
 * wrapper that checks whether libcowguard.so is present. Without it,
 * cowguard_malloc() is malloc(), cowguard_free() is free(), regions and
 * freezing do nothing, and cowguard_active() returns 0. A program compiled
 * against this header needs no library to link or to run.
 *
 * Define COWGUARD_NO_WRAPPERS to see only the plain declarations, without
 * the weak attribute and the wrappers (cowguard's own sources do).
 */
#ifndef COWGUARD_H
#define COWGUARD_H

#include <stddef.h>
#include <stdlib.h>

#ifdef __cplusplus
extern "C" {
#endif

#define COWGUARD_VERSION_MAJOR 0
#define COWGUARD_VERSION_MINOR 1
#define COWGUARD_VERSION_PATCH 0

#if defined(__GNUC__) && !defined(COWGUARD_NO_WRAPPERS)
#define COWGUARD_WEAK_ __attribute__((weak))
#else
#define COWGUARD_WEAK_
#endif

/* Every allocation this thread makes between begin and end is marked. Regions
 * nest; each begin needs its end. */
void cowguard_readonly_begin(void) COWGUARD_WEAK_;
void cowguard_readonly_end(void) COWGUARD_WEAK_;

/* One marked allocation. cowguard_free() frees any pointer, marked or not. */
void *cowguard_malloc(size_t size) COWGUARD_WEAK_;
void *cowguard_calloc(size_t nmemb, size_t size) COWGUARD_WEAK_;
void cowguard_free(void *ptr) COWGUARD_WEAK_;

/* Freeze every page that holds marked data now, as a fork would, and thaw it
 * again. Return 0, or -1 when cowguard is not active or freezing failed. */
int cowguard_freeze(void) COWGUARD_WEAK_;
int cowguard_thaw(void) COWGUARD_WEAK_;

/* 1 when the page holding ptr is frozen in this process, else 0. */
int cowguard_is_frozen(const void *ptr) COWGUARD_WEAK_;

/* 1 when libcowguard.so is loaded and set up to mark data, else 0. */
int cowguard_active(void) COWGUARD_WEAK_;

/* This process's numbers, and the tree's so far. Initialise with
 * { .size = sizeof(cowguard_stats_t) }: a library older than this header
 * fills only the fields it knows (the rest keep their 0) and sets size to
 * how much it filled. */
typedef struct cowguard_stats {
    size_t size;
    unsigned long long marked_bytes;   /* live marked blocks, bytes */
    unsigned long long marked_blocks;
    unsigned long long arena_bytes;    /* arena pages in use, bytes */
    unsigned long long frozen_bytes;   /* frozen now, in this process */
    unsigned long long faults;         /* trapped writes, in this process */
    unsigned long long processes;      /* in the process tree so far */
    unsigned long long tree_faults;    /* trapped writes, whole tree */
    int is_root;                       /* this process reports for the tree */
} cowguard_stats_t;

/* Fill *out; return 0, or -1 when cowguard is not active. */
int cowguard_stats(cowguard_stats_t *out) COWGUARD_WEAK_;

#if defined(__GNUC__) && !defined(COWGUARD_NO_WRAPPERS)
/* The wrappers take the address of each weak function: 0 when the library is
 * absent. The macros after them route calls of the public names here. */
static inline void cowguard_readonly_begin_(void)
{
    if (cowguard_readonly_begin) cowguard_readonly_begin();
}
static inline void cowguard_readonly_end_(void)
{
    if (cowguard_readonly_end) cowguard_readonly_end();
}
static inline void *cowguard_malloc_(size_t size)
{
    return cowguard_malloc ? cowguard_malloc(size) : malloc(size);
}
static inline void *cowguard_calloc_(size_t nmemb, size_t size)
{
    return cowguard_calloc ? cowguard_calloc(nmemb, size) : calloc(nmemb, size);
}
static inline void cowguard_free_(void *ptr)
{
    if (cowguard_free) cowguard_free(ptr); else free(ptr);
}
static inline int cowguard_freeze_(void)
{
    return cowguard_freeze ? cowguard_freeze() : -1;
}
static inline int cowguard_thaw_(void)
{
    return cowguard_thaw ? cowguard_thaw() : -1;
}
static inline int cowguard_is_frozen_(const void *ptr)
{
    return cowguard_is_frozen ? cowguard_is_frozen(ptr) : 0;
}
static inline int cowguard_active_(void)
{
    return cowguard_active ? cowguard_active() : 0;
}
static inline int cowguard_stats_(cowguard_stats_t *out)
{
    return cowguard_stats ? cowguard_stats(out) : -1;
}
#define cowguard_readonly_begin() cowguard_readonly_begin_()
#define cowguard_readonly_end() cowguard_readonly_end_()
#define cowguard_malloc(size) cowguard_malloc_(size)
#define cowguard_calloc(nmemb, size) cowguard_calloc_(nmemb, size)
#define cowguard_free(ptr) cowguard_free_(ptr)
#define cowguard_freeze() cowguard_freeze_()
#define cowguard_thaw() cowguard_thaw_()
#define cowguard_is_frozen(ptr) cowguard_is_frozen_(ptr)
#define cowguard_active() cowguard_active_()
#define cowguard_stats(out) cowguard_stats_(out)
#endif

#ifdef __cplusplus
}
#endif

#endif /* COWGUARD_H */
