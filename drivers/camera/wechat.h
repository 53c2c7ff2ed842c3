// A small C interface over OpenCV's wechat_qrcode module, so cgo can call it without gocv's
// contrib package (which does not build against Debian's OpenCV: xfeatures2d is missing).
#ifndef ONEPASS_WECHAT_H
#define ONEPASS_WECHAT_H

#ifdef __cplusplus
extern "C" {
#endif

typedef void *WQDecoder;

// One decoded symbol: the raw bytes as the decoder returned them and the four corners.
typedef struct {
	char *data;
	int len;
	float pts[8];
} WQCode;

typedef struct {
	WQCode *codes;
	int n;
	char *err; // set when OpenCV threw; the caller frees it with wq_result_free
} WQResult;

// wq_new loads the CNN detector and super-resolution models when the four paths are non-empty,
// else makes the model-free decoder. On failure it returns NULL and sets *err (free with free()).
WQDecoder wq_new(const char *det_proto, const char *det_model, const char *sr_proto,
                 const char *sr_model, char **err);
void wq_free(WQDecoder d);

// wq_decode reads every QR code in mat (a cv::Mat*, as gocv's Mat.Ptr() gives it).
WQResult wq_decode(WQDecoder d, void *mat);
void wq_result_free(WQResult *r);

// wq_strdup copies s with malloc (NULL when out of memory): error texts the Go side frees.
char *wq_strdup(const char *s);

// wq_set_threads sets OpenCV's worker thread count for the whole process.
void wq_set_threads(int n);

// wq_limit_arenas caps glibc's malloc arenas (mallopt M_ARENA_MAX) for the whole process.
void wq_limit_arenas(int n);

// wq_mmap_threshold fixes glibc's mmap threshold (mallopt M_MMAP_THRESHOLD) for the whole process.
void wq_mmap_threshold(int bytes);

// wq_mmap_served says whether an allocation of bytes, made after a large one was freed, is served by
// its own mmap (1) or from an arena (0): the threshold in force, for tests.
int wq_mmap_served(int bytes);

#ifdef __cplusplus
}
#endif

#endif
