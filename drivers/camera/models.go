package camera

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ModelsNone is the models setting that asks for the model-free decoder.
const ModelsNone = "none"

// sourceModels is where the models are committed in the source tree, relative to the module root.
const sourceModels = "drivers/camera/wechat_qrcode"

// modelSums are the size and SHA-256 of each model file as committed in wechat_qrcode/ (its NOTICE
// lists the MD5s the upstream README publishes). A file that differs is never loaded: a truncated
// or replaced caffemodel can crash OpenCV's DNN loader or silently read fewer codes.
var modelSums = map[string]struct {
	size   int64
	sha256 string
}{
	"detect.prototxt":   {42656, "e8acfc395caf443a47f15686a9b9207b36cb8f7e6ceb8fbaf6466665e68a9466"},
	"detect.caffemodel": {965430, "cc49b8c9babaf45f3037610fe499df38c8819ebda29e90ca9f2e33270f6ef809"},
	"sr.prototxt":       {5984, "8ae41acba97e8b4a8e741ee350481e49b8e01d787193f470a4c95ee1c02d5b61"},
	"sr.caffemodel":     {23929, "e5d36889d8e6ef2f1c1f515f807cec03979320ac81792cd8fb927c31fd658ae3"},
}

// errModelsNotFound is FindModels' answer when no default folder holds the models.
var errModelsNotFound = errors.New("not installed in " + DefaultModels)

// VerifyModels checks that dir holds the four ModelFiles with the sizes and checksums compiled into
// the driver. The error names the first file that is missing or differs.
func VerifyModels(dir string) error {
	if st, err := os.Stat(dir); err != nil {
		return fmt.Errorf("%s: no such folder", dir)
	} else if !st.IsDir() {
		return fmt.Errorf("%s: not a folder", dir)
	}
	for _, name := range ModelFiles {
		if err := verifyModelFile(filepath.Join(dir, name), name); err != nil {
			return err
		}
	}
	return nil
}

func verifyModelFile(path, name string) error {
	want := modelSums[name]
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: missing", name)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if st.Size() != want.size {
		return fmt.Errorf("%s: %d bytes, want %d", name, st.Size(), want.size)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if hex.EncodeToString(h.Sum(nil)) != want.sha256 {
		return fmt.Errorf("%s: checksum mismatch", name)
	}
	return nil
}

// FindModels resolves the `[camera] models` setting to the folder the decoder loads ("" for the
// model-free decoder) and, when the CNN models were wanted but cannot be used, says why:
//   - "none": the model-free decoder, by choice (no error);
//   - a folder: that folder, once its files verify;
//   - "": the first of these folders that exists, once its files verify: DefaultModels (where the
//     package installs them); the source checkout beside the executable
//     (<exe dir>/../drivers/camera/wechat_qrcode, as `make build` puts binaries in bin/); the
//     source checkout the working directory is in (`go run`, `go test`).
//
// The files are verified against checksums compiled into the driver, so a folder found by looking
// around can only ever hold the exact files the project ships.
func FindModels(setting string) (string, error) {
	switch setting {
	case ModelsNone:
		return "", nil
	case "":
		exe, err := os.Executable()
		if err == nil {
			if real, err := filepath.EvalSymlinks(exe); err == nil {
				exe = real
			}
		}
		wd, _ := os.Getwd()
		return findModels(modelCandidates(exe, wd))
	}
	if err := VerifyModels(setting); err != nil {
		return "", err
	}
	return setting, nil
}

// modelCandidates are the folders FindModels("") tries, in order.
func modelCandidates(exe, wd string) []string {
	out := []string{DefaultModels}
	if exe != "" {
		out = append(out, filepath.Join(filepath.Dir(filepath.Dir(exe)), filepath.FromSlash(sourceModels)))
	}
	if root := moduleRoot(wd); root != "" {
		out = append(out, filepath.Join(root, filepath.FromSlash(sourceModels)))
	}
	return out
}

// findModels takes the first candidate folder that exists: a broken copy there is reported, not
// skipped for a later one, so what the kiosk uses never depends on which copies happen to be bad.
func findModels(candidates []string) (string, error) {
	for _, dir := range candidates {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			continue
		}
		if err := VerifyModels(dir); err != nil {
			return "", fmt.Errorf("%s: %w", dir, err)
		}
		return filepath.Clean(dir), nil
	}
	return "", errModelsNotFound
}

// moduleRoot is the folder of this project's go.mod at or above dir, or "" when dir is not inside
// a checkout of onepass.
func moduleRoot(dir string) string {
	if dir == "" {
		return ""
	}
	for {
		if f, err := os.Open(filepath.Join(dir, "go.mod")); err == nil {
			var module string
			for sc := bufio.NewScanner(f); sc.Scan(); {
				if m, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
					module = strings.Trim(strings.TrimSpace(m), `"`)
					break
				}
			}
			f.Close()
			if module == "onepass" {
				return dir
			}
			return "" // another module: not our checkout
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// ResolveModels turns the models setting into a folder for NewDecoder: "none" is the model-free
// decoder; "" the first default folder whose files verify (see FindModels), else the model-free
// decoder; any other setting is returned as it is, so NewDecoder refuses a broken folder that was
// named explicitly. The daemon's scanner uses FindModels instead, to fall back and report.
func ResolveModels(setting string) string {
	if setting == "" {
		dir, _ := FindModels("")
		return dir
	}
	if setting == ModelsNone {
		return ""
	}
	return setting
}

// modelsIssue is the health reason of a scanner that wanted the CNN models and runs without them.
func modelsIssue(err error) string {
	return fmt.Sprintf("CNN models missing/corrupt (%v): decoding model-free", err)
}
