package mlx90614_test

import (
	"fmt"
	"log"

	"onepass/drivers/mlx90614"
	"onepass/drivers/mlx90614/mlxsim"
)

// A Dev on any periph i2c.Bus: here the emulated sensor, on a kiosk the bus from
// host.Init() and i2creg.Open("/dev/i2c-1").
func ExampleDev_Sense() {
	bus := mlxsim.New(mlxsim.Options{AmbientC: 23, Tau: -1})
	bus.SetObject(34.75)
	d, err := mlx90614.New(bus, mlx90614.DefaultAddr, nil)
	if err != nil {
		log.Fatal(err)
	}
	s, err := d.Sense() // two read words, PEC-checked
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("object %s, ambient %s, %d transactions\n", s.Object, s.Ambient, d.Stats().Transactions)
	// Output: object 34.750°C, ambient 22.990°C, 2 transactions
}
