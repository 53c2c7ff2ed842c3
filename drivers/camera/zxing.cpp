#include <cstdlib>
#include <cstring>
#include <exception>

#include <opencv2/core.hpp>

// text() as UTF-8 (unused: ToUTF8 converts the raw bytes), and no transition warning.
#define ZX_USE_UTF8
#include <ZXing/ReadBarcode.h>

#include "zxing.h"

extern "C" WQResult zx_read(void *mat) {
	WQResult r{nullptr, 0, nullptr};
	try {
		const cv::Mat &m = *static_cast<cv::Mat *>(mat);
		if (m.type() != CV_8UC1 || m.empty()) {
			r.err = wq_strdup("zxing: the image must be 8-bit grey");
			return r;
		}
		ZXing::ImageView view(m.data, m.cols, m.rows, ZXing::ImageFormat::Lum, static_cast<int>(m.step[0]));
		ZXing::DecodeHints hints;
		hints.setFormats(ZXing::BarcodeFormat::QRCode);
		hints.setTryHarder(true);
		hints.setTryRotate(true);
		hints.setTryDownscale(true);
		auto results = ZXing::ReadBarcodes(view, hints);
		int n = 0;
		for (const auto &res : results) {
			n += res.isValid() ? 1 : 0;
		}
		if (n == 0) {
			return r;
		}
		r.codes = static_cast<WQCode *>(std::calloc(n, sizeof(WQCode)));
		if (r.codes == nullptr) {
			r.err = wq_strdup("out of memory");
			return r;
		}
		for (const auto &res : results) {
			if (!res.isValid()) {
				continue;
			}
			// The raw bytes, as wechat_qrcode gives them: ToUTF8 does the one conversion.
			WQCode &c = r.codes[r.n++];
			const auto &b = res.bytes();
			c.len = static_cast<int>(b.size());
			c.data = static_cast<char *>(std::malloc(b.size() + 1));
			if (c.data != nullptr) {
				std::memcpy(c.data, b.data(), b.size());
			} else {
				c.len = 0;
			}
			const auto &pos = res.position();
			for (int k = 0; k < 4; k++) {
				c.pts[2 * k] = static_cast<float>(pos[k].x);
				c.pts[2 * k + 1] = static_cast<float>(pos[k].y);
			}
		}
	} catch (const std::exception &e) {
		r.err = wq_strdup(e.what());
	} catch (...) {
		r.err = wq_strdup("unknown C++ exception");
	}
	return r;
}
