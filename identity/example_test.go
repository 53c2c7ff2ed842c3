package identity_test

import (
	"fmt"
	"time"

	"onepass/identity"
)

func Example() {
	n, err := identity.Parse("110101199003074477", time.Now())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(identity.MaskName("张三"), identity.MaskID(string(n)))
	_, err = identity.Parse("110101199003074478", time.Now())
	fmt.Println(err)
	// Output:
	// 张* 1101**********4477
	// id number check digit is wrong
}
