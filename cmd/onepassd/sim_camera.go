package main

import (
	"io"
	"net/http"

	"onepass/drivers/sim"
)

// simImageHandler serves POST /api/sim/code/image: the body is a picture to show the camera.
func simImageHandler(rig *sim.Rig) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		shower, ok := rig.Codes.(interface{ ShowImage([]byte) error })
		if !ok {
			http.Error(w, "the simulated camera takes no pictures (a [camera] driver is configured)", http.StatusConflict)
			return
		}
		b, err := io.ReadAll(io.LimitReader(r.Body, 16<<20+1))
		if err != nil {
			http.Error(w, "read picture: "+err.Error(), http.StatusBadRequest)
			return
		}
		if len(b) > 16<<20 {
			http.Error(w, "picture over 16 MiB", http.StatusRequestEntityTooLarge)
			return
		}
		if err := shower.ShowImage(b); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
