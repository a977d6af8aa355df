/* text-hyphcache.h - a cache of compiled hyphenation dictionaries, in the
 * manner of fontconfig's cache.  libhyphen builds its pattern automaton from
 * the text of a .dic file on every load (13 ms and 39 M instructions for
 * English); the cache keeps the built automaton (every field of the
 * HyphenDict chain) in a file and rebuilds the dictionary from it in one
 * allocation.  The file lives in $BULLETIN_CACHE_DIR, else
 * $XDG_CACHE_HOME/bulletin, else $HOME/.cache/bulletin; BULLETIN_CACHE_DIR=""
 * turns caching off.  Cache files are untrusted input: anything inconsistent
 * is ignored and rewritten.  Internal header. */
#ifndef BL_TEXT_HYPHCACHE_H
#define BL_TEXT_HYPHCACHE_H
#include <hyphen.h>
#include <stddef.h>
#include <stdint.h>

/* How bl_hyphcache_load got its dictionary. */
enum {
    BL_HC_FAILED,   /* it did not: libhyphen could not load the file (NULL) */
    BL_HC_HIT,      /* rebuilt from a valid cache entry: one arena allocation */
    BL_HC_WRITTEN,  /* built by libhyphen; the cache entry was (re)written */
    BL_HC_UNCACHED  /* built by libhyphen; caching is off, the entry could not
                       be written, or the dictionary is not cacheable */
};

/* Loads the dictionary in the .dic file at path (an absolute path, resolved
 * so that links to one file share an entry): from its cache entry when a valid
 * one exists, else with libhyphen, and then (re)writes the entry.  *how gets
 * one of the BL_HC_ values; pass it to bl_hyphcache_free.  Thread-safe. */
HyphenDict *bl_hyphcache_load(const char *path, int *how);

/* Frees a dictionary from bl_hyphcache_load: an arena (how == BL_HC_HIT) is
 * one free(); libhyphen's own goes to hnj_hyphen_free.  NULL is ignored. */
void bl_hyphcache_free(HyphenDict *dict, int how);

/* The cache folder from the environment, into buf.  Returns 0 (and buf "")
 * when caching is off: BULLETIN_CACHE_DIR is empty, or it is unset and
 * neither an absolute XDG_CACHE_HOME nor HOME is set, or the name is too long. */
int bl_hyphcache_dir(char *buf, size_t n);

/* The name of the cache entry for the dictionary at path in folder dir:
 * dir/BASENAME-HASH.vN.cache.  Returns 0 if it does not fit in buf. */
int bl_hyphcache_entry(const char *dir, const char *path, char *buf, size_t n);

/* ---- The entry format, for the tests ---- */

/* What an entry is valid for: the .dic file's resolved path, size and
 * modification time. */
typedef struct bl_hyphcache_key {
    const char *path;
    uint64_t size;
    int64_t mtime_sec, mtime_nsec;
} bl_hyphcache_key;

/* dict (and its nextlevel chain) as the bytes of a cache entry for key, in a
 * malloc'd buffer of *n bytes.  NULL if out of memory or if the dictionary
 * cannot be cached (replacement patterns, see text-hyphcache.c).  Nothing is
 * checked: bl_hyphcache_decode is the judge. */
unsigned char *bl_hyphcache_encode(const HyphenDict *dict, const bl_hyphcache_key *key,
                                   size_t *n);

/* Rebuilds a dictionary (an arena: free with bl_hyphcache_free(d, BL_HC_HIT))
 * from the entry buf[0..n) if it is complete, for key, intact (checksum) and
 * consistent in every count, index and string; NULL otherwise. */
HyphenDict *bl_hyphcache_decode(const unsigned char *buf, size_t n, const bl_hyphcache_key *key);

/* Recomputes the checksum of an entry in place (tests use it to get damaged
 * entries past the checksum to the consistency checks).  Returns 0 if buf is
 * too short to be an entry. */
int bl_hyphcache_reseal(unsigned char *buf, size_t n);

#endif
