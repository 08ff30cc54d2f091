package main

// A Gateway API listener that terminates TLS is programmed only when its certificate Secret
// exists and holds a valid key pair. Stacks name a Secret that is made outside them (a
// certificate is no manifest's to carry), so one the manifests lack is stood in by a
// self-signed pair: the routes behind the listener are what is judged, not the certificate.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// missingCertificates returns a stand-in Secret for every certificate a listener of gateways
// references that objects do not hold.
func missingCertificates(gateways []*gatewayv1.Gateway, objects []runtime.Object) ([]runtime.Object, error) {
	have := map[string]bool{}
	for _, o := range objects {
		if s, ok := o.(*corev1.Secret); ok {
			have[s.Namespace+"/"+s.Name] = true
		}
	}
	var out []runtime.Object
	for _, gw := range gateways {
		for _, l := range gw.Spec.Listeners {
			if l.TLS == nil {
				continue
			}
			for _, ref := range l.TLS.CertificateRefs {
				if (ref.Group != nil && *ref.Group != "") || (ref.Kind != nil && *ref.Kind != "Secret") {
					continue
				}
				ns := gw.Namespace
				if ref.Namespace != nil {
					ns = string(*ref.Namespace)
				}
				key := ns + "/" + string(ref.Name)
				if have[key] {
					continue
				}
				cert, keyPEM, err := selfSigned()
				if err != nil {
					return nil, err
				}
				have[key] = true
				out = append(out, &corev1.Secret{
					ObjectMeta: metav1.ObjectMeta{Name: string(ref.Name), Namespace: ns},
					Type:       corev1.SecretTypeTLS,
					Data:       map[string][]byte{corev1.TLSCertKey: cert, corev1.TLSPrivateKeyKey: keyPEM},
				})
			}
		}
	}
	return out, nil
}

func selfSigned() (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "istio-route stand-in"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}
