package client_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/tokenledger/tokenledger/client"
)

// Submitting a transfer, and telling a rule's refusal by its code.
func ExampleClient_Submit() {
	url, stop := exampleNode()
	defer stop()
	ctx := context.Background()
	c, _ := client.New(client.Config{Nodes: []string{url}, Key: operatorKey})
	if err := world(ctx, c); err != nil {
		fmt.Println(err)
		return
	}
	o, err := c.Submit(ctx, client.Instruction{ID: "t-1", Type: client.TypeTransfer,
		Legs: []client.Leg{{Symbol: "ACME", From: "inv-a", To: "inv-b", Amount: decimal.RequireFromString("40")}}})
	fmt.Println(o.Status, err)
	_, err = c.Submit(ctx, client.Instruction{ID: "t-2", Type: client.TypeTransfer,
		Legs: []client.Leg{{Symbol: "ACME", From: "inv-a", To: "inv-b", Amount: decimal.RequireFromString("400")}}})
	fmt.Println(errors.Is(err, client.ErrRejected), errors.Is(err, client.Code("INSUFFICIENT_BALANCE")))
	// Output:
	// accepted <nil>
	// true true
}

// Reading a cap table page by page.
func ExampleClient_Holders() {
	url, stop := exampleNode()
	defer stop()
	ctx := context.Background()
	c, _ := client.New(client.Config{Nodes: []string{url}, Key: operatorKey})
	if err := world(ctx, c); err != nil {
		fmt.Println(err)
		return
	}
	for h, err := range c.Holders(ctx, "ACME", 0) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(h.Party, h.Balance)
	}
	// Output:
	// inv-a 100
}

// Following the journal live: committed entries first, then new ones.
func ExampleClient_Follow() {
	url, stop := exampleNode()
	defer stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, _ := client.New(client.Config{Nodes: []string{url}, Key: operatorKey})
	if err := world(ctx, c); err != nil {
		fmt.Println(err)
		return
	}
	for e, err := range c.Follow(ctx, client.JournalFilter{Symbol: "ACME"}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(e.Seq, e.Status)
		if e.Seq == 8 {
			break
		}
	}
	// Output:
	// 7 accepted
	// 8 accepted
}
