// A small C interface over zxing-cpp (Debian's libzxing-dev), the decoder beside wechat_qrcode:
// a few milliseconds an image, and it reads tight, sheared and tiny codes wechat_qrcode misses.
#ifndef ONEPASS_ZXING_H
#define ONEPASS_ZXING_H

#include "wechat.h"

#ifdef __cplusplus
extern "C" {
#endif

// zx_read reads the QR codes in mat (a cv::Mat* of 8-bit grey, as gocv's Mat.Ptr() gives it; a
// region is fine) with zxing-cpp's thorough search (tryHarder, tryRotate, tryDownscale). Codes
// and errors as wq_decode's; corners top-left, top-right, bottom-right, bottom-left.
WQResult zx_read(void *mat);

#ifdef __cplusplus
}
#endif

#endif
