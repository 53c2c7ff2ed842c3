package idcard_test

import (
	"context"
	"fmt"
	"time"

	"onepass/device"
	"onepass/drivers/idcard"
	"onepass/drivers/idcard/idcardsim"
)

// A reader simulator on a pseudo-terminal, the driver on its tty, one card.
func Example() {
	s := idcardsim.New(idcardsim.Options{})
	p, err := s.OpenPTY()
	if err != nil {
		panic(err)
	}
	defer p.Close()

	ctx := context.Background()
	r, err := idcard.Open(ctx, idcard.Options{Port: p.Path(), PollInterval: 10 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	defer r.Close()
	fmt.Println("reader:", r.Health())

	s.Place(device.Card{Name: "王五", Sex: "女", Nation: "汉", Birth: "19491231", Number: "11010519491231002X",
		ValidFrom: "20100101", ValidTo: "长期"})
	c, err := r.Next(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(c, c.Name, c.Sex, c.Nation, c.ValidTo, len(c.Raw), len(c.Photo))
	// Output:
	// reader: ok
	// card(resident) 王五 女 汉 长期 256 1024
}

func ExampleParseText() {
	chip := idcardsim.EncodeText(device.Card{Type: device.CardForeigner, Name: "ZHENGJIAN, YANGBEN", NameChinese: "证件样本",
		Sex: "女", Nation: "PAK", Birth: "19800101", Number: "931586198001010028", ValidFrom: "20230808", ValidTo: "20330807"})
	t, err := idcard.ParseText(chip[:])
	if err != nil {
		panic(err)
	}
	fmt.Println(t.Format, t.Name, t.NameChinese, t.Nation, t.ValidTo, t.Check(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)))
	// Output: foreigner-2023 ZHENGJIAN, YANGBEN 证件样本 PAK 20330807 <nil>
}
