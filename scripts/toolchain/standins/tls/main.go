// pulumi-resource-tls stand-in: tls:index/privateKey:PrivateKey with the inputs, defaults,
// outputs (PEM, PKCS#8, OpenSSH, fingerprints) and replace-on-any-change behaviour of the
// bridged provider.
package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"golang.org/x/crypto/ssh"

	"asky.local/toolchain/standins/standin"
)

// version is set at build time to the @pulumi/tls version in package-lock.json.
var version = "0.0.0"

var curves = map[string]elliptic.Curve{"P224": elliptic.P224(), "P256": elliptic.P256(), "P384": elliptic.P384(), "P521": elliptic.P521()}

func defaults(in resource.PropertyMap) (resource.PropertyMap, []plugin.CheckFailure) {
	var failures []plugin.CheckFailure
	switch standin.String(in, "algorithm", "") {
	case "RSA", "ECDSA", "ED25519":
	default:
		failures = append(failures, plugin.CheckFailure{Property: "algorithm", Reason: "algorithm must be RSA, ECDSA or ED25519"})
	}
	in["rsaBits"] = resource.NewProperty(standin.Number(in, "rsaBits", 2048))
	curve := standin.String(in, "ecdsaCurve", "P224")
	if _, ok := curves[curve]; !ok {
		failures = append(failures, plugin.CheckFailure{Property: "ecdsaCurve", Reason: "ecdsaCurve must be P224, P256, P384 or P521"})
	}
	in["ecdsaCurve"] = resource.NewProperty(curve)
	return in, failures
}

func create(in resource.PropertyMap) (resource.ID, resource.PropertyMap, error) {
	var key crypto.Signer
	var keyPem *pem.Block
	var err error
	switch standin.String(in, "algorithm", "") {
	case "RSA":
		var k *rsa.PrivateKey
		if k, err = rsa.GenerateKey(rand.Reader, int(standin.Number(in, "rsaBits", 2048))); err == nil {
			key, keyPem = k, &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}
		}
	case "ECDSA":
		var k *ecdsa.PrivateKey
		if k, err = ecdsa.GenerateKey(curves[standin.String(in, "ecdsaCurve", "P224")], rand.Reader); err == nil {
			var der []byte
			if der, err = x509.MarshalECPrivateKey(k); err == nil {
				key, keyPem = k, &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
			}
		}
	case "ED25519":
		var k ed25519.PrivateKey
		if _, k, err = ed25519.GenerateKey(rand.Reader); err == nil {
			key = k
		}
	}
	if err != nil {
		return "", nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", nil, err
	}
	if keyPem == nil {
		keyPem = &pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}
	}
	pubDer, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return "", nil, err
	}
	pubPem := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDer}))
	props := in.Copy()
	props["privateKeyPem"] = resource.MakeSecret(resource.NewProperty(string(pem.EncodeToMemory(keyPem))))
	props["privateKeyPemPkcs8"] = resource.MakeSecret(resource.NewProperty(string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))))
	props["publicKeyPem"] = resource.NewProperty(pubPem)
	// OpenSSH has no P224 keys: the upstream provider leaves these empty then.
	opensshPriv, opensshPub, md5, sha := "", "", "", ""
	if sshPub, err := ssh.NewPublicKey(key.Public()); err == nil {
		opensshPub = string(ssh.MarshalAuthorizedKey(sshPub))
		md5, sha = ssh.FingerprintLegacyMD5(sshPub), ssh.FingerprintSHA256(sshPub)
		if block, err := ssh.MarshalPrivateKey(key, ""); err == nil {
			opensshPriv = string(pem.EncodeToMemory(block))
		}
	}
	props["privateKeyOpenssh"] = resource.MakeSecret(resource.NewProperty(opensshPriv))
	props["publicKeyOpenssh"] = resource.NewProperty(opensshPub)
	props["publicKeyFingerprintMd5"] = resource.NewProperty(md5)
	props["publicKeyFingerprintSha256"] = resource.NewProperty(sha)
	id := sha1.Sum([]byte(pubPem))
	return resource.ID(hex.EncodeToString(id[:])), props, nil
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--version" {
		fmt.Println(version)
		return
	}
	standin.Main("tls", version, map[tokens.Type]standin.Resource{
		"tls:index/privateKey:PrivateKey": {Defaults: defaults, Create: create, Outputs: []string{
			"privateKeyPem", "privateKeyPemPkcs8", "privateKeyOpenssh", "publicKeyPem", "publicKeyOpenssh",
			"publicKeyFingerprintMd5", "publicKeyFingerprintSha256",
		}},
	})
}
