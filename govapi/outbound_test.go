package govapi

import "testing"

func TestOutboundOrigins(t *testing.T) {
	o := Outbound{Origins: []string{Origin("https://iam.cloud.ibm.com"), Origin("http://127.0.0.1:9090"), Origin("https://[::1]:8443")}}
	for _, tc := range []struct {
		url   string
		allow bool
	}{
		{"https://iam.cloud.ibm.com", true},
		{"https://IAM.Cloud.IBM.com./identity/token", true},
		{"https://iam.cloud.ibm.com:443/x?y=z", true},
		{"http://iam.cloud.ibm.com", false},
		{"https://iam.cloud.ibm.com:25", false},
		{"https://user:pw@iam.cloud.ibm.com", false},
		{"https://iam.cloud.ibm.com.evil.example", false},
		{"http://127.0.0.1:9090/api/v1", true},
		{"http://127.0.0.1:9091/api/v1", false},
		{"http://localhost:9090", false},
		{"https://[::1]:8443/api", true},
		{"ftp://iam.cloud.ibm.com", false},
		{"//iam.cloud.ibm.com", false},
		{"not a url", false},
	} {
		if got := o.Allows(tc.url); got != tc.allow {
			t.Errorf("Allows(%q) = %v, want %v", tc.url, got, tc.allow)
		}
	}
}
