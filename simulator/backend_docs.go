package simulator

import (
	"strconv"
	"time"

	"github.com/qgov/qgov/ibm/runtimeapi"
)

const backendVersion = "1.4.2"

// gateInfo describes a basis gate for configuration documents.
type gateInfo struct {
	params  []string
	qasmDef string
}

// gateInfos are the basis gates' parameters and OpenQASM 2 definitions:
// the client's GateConfig requires name, parameters and qasm_def of every
// gate entry, and drops the whole backend when one lacks them.
var gateInfos = map[string]gateInfo{
	"id":   {nil, "gate id q { U(0, 0, 0) q; }"},
	"rz":   {[]string{"theta"}, "gate rz(theta) q { U(0, 0, theta) q; }"},
	"rx":   {[]string{"theta"}, "gate rx(theta) q { U(theta, -pi/2, pi/2) q; }"},
	"ry":   {[]string{"theta"}, "gate ry(theta) q { U(theta, 0, 0) q; }"},
	"sx":   {nil, "gate sx q { U(pi/2, 3*pi/2, pi/2) q; }"},
	"x":    {nil, "gate x q { U(pi, 0, pi) q; }"},
	"y":    {nil, "gate y q { U(pi, pi/2, pi/2) q; }"},
	"z":    {nil, "gate z q { U(0, 0, pi) q; }"},
	"h":    {nil, "gate h q { U(pi/2, 0, pi) q; }"},
	"s":    {nil, "gate s q { U(0, 0, pi/2) q; }"},
	"sdg":  {nil, "gate sdg q { U(0, 0, -pi/2) q; }"},
	"t":    {nil, "gate t q { U(0, 0, pi/4) q; }"},
	"tdg":  {nil, "gate tdg q { U(0, 0, -pi/4) q; }"},
	"u":    {[]string{"theta", "phi", "lam"}, "gate u(theta, phi, lam) q { U(theta, phi, lam) q; }"},
	"cx":   {nil, "gate cx c, t { CX c, t; }"},
	"cz":   {nil, "gate cz q0, q1 { h q1; cx q0, q1; h q1; }"},
	"cp":   {[]string{"lambda"}, "gate cp(lambda) a, b { u1(lambda/2) a; cx a, b; u1(-lambda/2) b; cx a, b; u1(lambda/2) b; }"},
	"ecr":  {nil, "gate ecr q0, q1 { rzx(pi/4) q0, q1; x q0; rzx(-pi/4) q0, q1; }"},
	"swap": {nil, "gate swap a, b { cx a, b; cx b, a; cx a, b; }"},
	"ccx":  {nil, "gate ccx a, b, c { h c; cx b, c; tdg c; cx a, c; t c; cx b, c; tdg c; cx a, c; t b; t c; h c; cx a, b; t a; tdg b; cx a, b; }"},
}

func (b *backend) twoQubitGate(name string) bool {
	return name == b.twoQ || name == "cx" || name == "cz" || name == "ecr" || name == "swap" || name == "cp"
}

// configuration is the document of GET /backends/{name}/configuration, in
// the form Qiskit's QasmBackendConfiguration.from_dict accepts (gate entries
// hold only the keys it allows).
func (b *backend) configuration() map[string]any {
	var gates []map[string]any
	for _, name := range b.basisGates() {
		info := gateInfos[name]
		g := map[string]any{"name": name, "parameters": info.params, "qasm_def": info.qasmDef}
		if info.params == nil {
			g["parameters"] = []string{}
		}
		if !b.Simulator {
			var cm [][]int
			if b.twoQubitGate(name) {
				for _, e := range b.coupling {
					cm = append(cm, []int{e[0], e[1]})
				}
			} else {
				for q := 0; q < b.NumQubits; q++ {
					cm = append(cm, []int{q})
				}
			}
			g["coupling_map"] = cm
		}
		gates = append(gates, g)
	}
	var coupling any
	if !b.Simulator {
		cm := make([][]int, len(b.coupling))
		for i, e := range b.coupling {
			cm[i] = []int{e[0], e[1]}
		}
		coupling = cm
	}
	all := make([]int, b.NumQubits)
	for i := range all {
		all[i] = i
	}
	return map[string]any{
		"backend_name":           b.Name,
		"backend_version":        backendVersion,
		"n_qubits":               b.NumQubits,
		"basis_gates":            b.basisGates(),
		"gates":                  gates,
		"local":                  false,
		"simulator":              b.Simulator,
		"conditional":            false,
		"open_pulse":             false,
		"memory":                 true,
		"max_shots":              maxShots,
		"max_experiments":        300,
		"coupling_map":           coupling,
		"online_date":            b.online.Format(time.RFC3339),
		"description":            "qgov simulated backend",
		"dt":                     dtSeconds * 1e9,
		"dtm":                    dtSeconds * 1e9,
		"rep_delay_range":        []float64{0, 500}, // µs, flat: the client scales each bound by 1e-6
		"default_rep_delay":      repDelaySeconds * 1e6,
		"meas_map":               [][]int{all},
		"supported_instructions": append(b.basisGates(), "measure", "delay", "reset", "barrier"),
		"supported_features":     []string{"qasm3"},
		"processor_type":         map[string]any{"family": b.Processor, "revision": b.Revision},
		"timing_constraints":     map[string]int{"acquire_alignment": 16, "granularity": 16, "min_length": 64, "pulse_alignment": 16},
		"credits_required":       !b.Simulator,
		"quantum_volume":         128,
		"clops_h":                30000,
	}
}

// maxShots is the largest number of shots per pub.
const maxShots = 100000

type nduv struct {
	Date  string  `json:"date"`
	Name  string  `json:"name"`
	Unit  string  `json:"unit"`
	Value float64 `json:"value"`
}

// properties is the document of GET /backends/{name}/properties: stable
// pseudo-random calibration data with SI-prefixed units, as Qiskit's
// BackendProperties.from_dict requires.
func (b *backend) properties(now time.Time) map[string]any {
	date := now.UTC().Truncate(24 * time.Hour).Format(time.RFC3339)
	qubits := make([][]nduv, b.NumQubits)
	for q := range qubits {
		readout := 0.005 + 0.03*b.noise("readout", q)
		qubits[q] = []nduv{
			{date, "T1", "us", 150 + 200*b.noise("t1", q)},
			{date, "T2", "us", 80 + 200*b.noise("t2", q)},
			{date, "frequency", "GHz", 4.6 + 0.5*b.noise("freq", q)},
			{date, "anharmonicity", "GHz", -0.31 + 0.02*b.noise("anh", q)},
			{date, "readout_error", "", readout},
			{date, "prob_meas0_prep1", "", readout * 1.2},
			{date, "prob_meas1_prep0", "", readout * 0.8},
			{date, "readout_length", "ns", measureSeconds * 1e9},
		}
	}
	var gates []map[string]any
	for _, name := range b.basisGates() {
		if b.twoQubitGate(name) {
			for _, e := range b.coupling {
				gates = append(gates, gateProps(date, name, []int{e[0], e[1]}, 0.003+0.01*b.noise(name, e[0], e[1]), twoQubitGateSeconds))
			}
			continue
		}
		for q := 0; q < b.NumQubits; q++ {
			errRate, length := 0.0001+0.0005*b.noise(name, q), oneQubitGateSeconds
			if name == "rz" {
				errRate, length = 0, 0
			}
			gates = append(gates, gateProps(date, name, []int{q}, errRate, length))
		}
	}
	return map[string]any{
		"backend_name":     b.Name,
		"backend_version":  backendVersion,
		"last_update_date": date,
		"qubits":           qubits,
		"gates":            gates,
		"general":          []nduv{},
	}
}

func gateProps(date, name string, qubits []int, errRate, seconds float64) map[string]any {
	label := name
	for _, q := range qubits {
		label += "_" + strconv.Itoa(q)
	}
	return map[string]any{
		"gate":   name,
		"qubits": qubits,
		"name":   label,
		"parameters": []nduv{
			{date, "gate_error", "", errRate},
			{date, "gate_length", "ns", seconds * 1e9},
		},
	}
}

// status is the document of GET /backends/{name}/status.
func (b *backend) status(pending int) runtimeapi.BackendStatus {
	msg := "available"
	if b.Status != "active" {
		msg = "backend is in " + b.Status
	}
	return runtimeapi.BackendStatus{
		State: b.Status == "active", Status: b.Status, Message: msg,
		LengthQueue: pending, BackendVersion: backendVersion,
	}
}

// device is the entry of GET /backends.
func (b *backend) device(pending int) map[string]any {
	name, reason := "online", ""
	if b.Status != "active" {
		name, reason = "offline", b.Status
	}
	return map[string]any{
		"name":           b.Name,
		"status":         map[string]string{"name": name, "reason": reason},
		"is_simulator":   b.Simulator,
		"qubits":         b.NumQubits,
		"clops":          map[string]any{"type": "hardware", "value": 30000},
		"processor_type": map[string]any{"family": b.Processor, "revision": b.Revision},
		"queue_length":   pending,
		"performance_metrics": map[string]any{
			"two_q_error_best": map[string]float64{"value": 0.003},
			"readout_error":    map[string]float64{"value": 0.01},
		},
	}
}
