package local

// The drivers `onepassctl selftest` can open: exactly those onepassd ships (cmd/onepassd/drivers.go),
// one blank import per line. TestDriversMatchDaemon fails when the two lists differ.
import (
	_ "onepass/drivers/camera"
	_ "onepass/drivers/escpos"
	_ "onepass/drivers/gpio"
	_ "onepass/drivers/idcard"
	_ "onepass/drivers/mlx90614"
)
