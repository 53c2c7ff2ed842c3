package main

// The drivers the daemon ships register themselves by name in init; the configuration picks them.
import (
	_ "onepass/drivers/camera"
	_ "onepass/drivers/escpos"
	_ "onepass/drivers/gpio"
	_ "onepass/drivers/idcard"
	_ "onepass/drivers/mlx90614"
)
