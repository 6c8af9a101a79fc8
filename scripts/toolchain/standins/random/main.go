// pulumi-resource-random stand-in: random:index/randomPassword:RandomPassword with the inputs,
// defaults, outputs and replace-on-any-change behaviour of the bridged provider.
package main

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"golang.org/x/crypto/bcrypt"

	"asky.local/toolchain/standins/standin"
)

// version is set at build time to the @pulumi/random version in package-lock.json.
var version = "0.0.0"

const (
	lowerChars   = "abcdefghijklmnopqrstuvwxyz"
	upperChars   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	numericChars = "0123456789"
	// The upstream provider's default special characters.
	specialChars = "!@#$%&*()-_=+[]{}<>:?"
)

func defaults(in resource.PropertyMap) (resource.PropertyMap, []plugin.CheckFailure) {
	var failures []plugin.CheckFailure
	length := standin.Number(in, "length", 0)
	if length < 1 {
		failures = append(failures, plugin.CheckFailure{Property: "length", Reason: "length must be at least 1"})
	}
	for k, v := range map[string]bool{"special": true, "upper": true, "lower": true, "numeric": true} {
		in[resource.PropertyKey(k)] = resource.NewProperty(standin.Bool(in, k, v))
	}
	in["number"] = resource.NewProperty(standin.Bool(in, "numeric", true))
	mins := 0.0
	for _, k := range []string{"minLower", "minUpper", "minNumeric", "minSpecial"} {
		n := standin.Number(in, k, 0)
		in[resource.PropertyKey(k)] = resource.NewProperty(n)
		mins += n
	}
	if mins > length {
		failures = append(failures, plugin.CheckFailure{Property: "length", Reason: "length must be at least the sum of the min* inputs"})
	}
	return in, failures
}

func pick(chars string) (byte, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(int64(len(chars))))
	if err != nil {
		return 0, err
	}
	return chars[n.Int64()], nil
}

func create(in resource.PropertyMap) (resource.ID, resource.PropertyMap, error) {
	special := specialChars
	if v := standin.String(in, "overrideSpecial", ""); v != "" {
		special = v
	}
	classes := []struct {
		on    bool
		chars string
		min   float64
	}{
		{standin.Bool(in, "lower", true), lowerChars, standin.Number(in, "minLower", 0)},
		{standin.Bool(in, "upper", true), upperChars, standin.Number(in, "minUpper", 0)},
		{standin.Bool(in, "numeric", true), numericChars, standin.Number(in, "minNumeric", 0)},
		{standin.Bool(in, "special", true), special, standin.Number(in, "minSpecial", 0)},
	}
	all := ""
	var out []byte
	for _, c := range classes {
		if !c.on {
			continue
		}
		all += c.chars
		for i := 0; i < int(c.min); i++ {
			b, err := pick(c.chars)
			if err != nil {
				return "", nil, err
			}
			out = append(out, b)
		}
	}
	if all == "" {
		return "", nil, fmt.Errorf("at least one of lower, upper, numeric, special must be true")
	}
	for len(out) < int(standin.Number(in, "length", 0)) {
		b, err := pick(all)
		if err != nil {
			return "", nil, err
		}
		out = append(out, b)
	}
	for i := len(out) - 1; i > 0; i-- { // Fisher-Yates: the min* characters are not all at the front
		j, err := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		if err != nil {
			return "", nil, err
		}
		out[i], out[j.Int64()] = out[j.Int64()], out[i]
	}
	hash, err := bcrypt.GenerateFromPassword(out, bcrypt.DefaultCost)
	if err != nil {
		return "", nil, err
	}
	props := in.Copy()
	props["result"] = resource.MakeSecret(resource.NewProperty(string(out)))
	props["bcryptHash"] = resource.MakeSecret(resource.NewProperty(string(hash)))
	return "none", props, nil
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--version" {
		fmt.Println(version)
		return
	}
	standin.Main("random", version, map[tokens.Type]standin.Resource{
		"random:index/randomPassword:RandomPassword": {Defaults: defaults, Create: create, Outputs: []string{"result", "bcryptHash"}},
	})
}
