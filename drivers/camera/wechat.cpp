#include <cstdlib>
#include <malloc.h>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/wechat_qrcode.hpp>

#include "wechat.h"

extern "C" char *wq_strdup(const char *s) {
	size_t n = std::strlen(s);
	char *out = static_cast<char *>(std::malloc(n + 1));
	if (out != nullptr) {
		std::memcpy(out, s, n + 1);
	}
	return out;
}

extern "C" WQDecoder wq_new(const char *det_proto, const char *det_model, const char *sr_proto,
                            const char *sr_model, char **err) {
	*err = nullptr;
	try {
		return new cv::wechat_qrcode::WeChatQRCode(det_proto, det_model, sr_proto, sr_model);
	} catch (const std::exception &e) {
		*err = wq_strdup(e.what());
	} catch (...) {
		*err = wq_strdup("unknown C++ exception");
	}
	return nullptr;
}

extern "C" void wq_free(WQDecoder d) { delete static_cast<cv::wechat_qrcode::WeChatQRCode *>(d); }

extern "C" WQResult wq_decode(WQDecoder d, void *mat) {
	WQResult r{nullptr, 0, nullptr};
	try {
		auto *dec = static_cast<cv::wechat_qrcode::WeChatQRCode *>(d);
		std::vector<cv::Mat> points;
		std::vector<std::string> texts = dec->detectAndDecode(*static_cast<cv::Mat *>(mat), points);
		if (texts.empty()) {
			return r;
		}
		r.codes = static_cast<WQCode *>(std::calloc(texts.size(), sizeof(WQCode)));
		if (r.codes == nullptr) {
			r.err = wq_strdup("out of memory");
			return r;
		}
		r.n = static_cast<int>(texts.size());
		for (size_t i = 0; i < texts.size(); i++) {
			WQCode &c = r.codes[i];
			c.len = static_cast<int>(texts[i].size());
			c.data = static_cast<char *>(std::malloc(texts[i].size() + 1));
			if (c.data != nullptr) {
				std::memcpy(c.data, texts[i].data(), texts[i].size());
			} else {
				c.len = 0;
			}
			if (i < points.size() && points[i].rows == 4 && points[i].cols == 2 &&
			    points[i].type() == CV_32F) {
				for (int k = 0; k < 4; k++) {
					c.pts[2 * k] = points[i].at<float>(k, 0);
					c.pts[2 * k + 1] = points[i].at<float>(k, 1);
				}
			}
		}
	} catch (const std::exception &e) {
		r.err = wq_strdup(e.what());
	} catch (...) {
		r.err = wq_strdup("unknown C++ exception");
	}
	return r;
}

extern "C" void wq_result_free(WQResult *r) {
	for (int i = 0; i < r->n; i++) {
		std::free(r->codes[i].data);
	}
	std::free(r->codes);
	std::free(r->err);
	r->codes = nullptr;
	r->err = nullptr;
	r->n = 0;
}

extern "C" void wq_set_threads(int n) { cv::setNumThreads(n); }

extern "C" void wq_limit_arenas(int n) { mallopt(M_ARENA_MAX, n); }

extern "C" void wq_mmap_threshold(int bytes) { mallopt(M_MMAP_THRESHOLD, bytes); }

// Volatile so the compiler keeps the allocations it could otherwise see are never used.
static void *volatile wq_probe;

extern "C" int wq_mmap_served(int bytes) {
  // A free of an mmapped chunk is what raises glibc's dynamic threshold: do one first.
  wq_probe = malloc(4 << 20);
  free(wq_probe);
  int before = mallinfo2().hblks;
  wq_probe = malloc(bytes);
  int served = mallinfo2().hblks > before;
  free(wq_probe);
  return served;
}
