package idcardsim

import (
	"time"

	"onepass/device"
)

// CardRequest describes a card to place on a simulated reader; only ID and Name are needed, Card
// gives the rest plausible values. It is also the local API's body of POST /api/sim/card
// (ui/api.CardRequest names this type); `onepassctl sim-reader` and the tests use it directly.
type CardRequest struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Type      string `json:"type,omitempty"` // resident (default), foreigner, hkmotw
	Sex       string `json:"sex,omitempty"`
	Nation    string `json:"nation,omitempty"`
	Birth     string `json:"birth,omitempty"`
	Address   string `json:"address,omitempty"`
	Issuer    string `json:"issuer,omitempty"`
	ValidFrom string `json:"valid_from,omitempty"`
	ValidTo   string `json:"valid_to,omitempty"` // YYYYMMDD or 长期
}

// Card builds the card the reader would deliver.
func (r CardRequest) Card(now time.Time) device.Card {
	c := device.Card{
		Type: device.CardType(r.Type), Name: r.Name, Sex: r.Sex, Nation: r.Nation, Birth: r.Birth,
		Address: r.Address, Number: r.ID, Issuer: r.Issuer, ValidFrom: r.ValidFrom, ValidTo: r.ValidTo,
	}
	if c.Type == "" {
		c.Type = device.CardResident
	}
	if c.Birth == "" && len(r.ID) == 18 {
		c.Birth = r.ID[6:14]
	}
	if c.Nation == "" {
		c.Nation = "汉"
	}
	if c.ValidFrom == "" {
		c.ValidFrom = now.AddDate(-5, 0, 0).Format("20060102")
	}
	if c.ValidTo == "" {
		c.ValidTo = now.AddDate(5, 0, 0).Format("20060102")
	}
	return c
}
