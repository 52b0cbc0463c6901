package runtimeapi

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNpyHeaderOneReading reads .npy headers as np.save writes them and
// refuses any other, among them the ones NumPy would read otherwise (a
// key twice: NumPy keeps the last).
func TestNpyHeaderOneReading(t *testing.T) {
	for _, shape := range [][]int{nil, {3}, {3, 2}, {0}} {
		descr, got, data, err := DecodeNpy(EncodeNpy(DescrFloat64, shape, make([]byte, 8*prod(shape))))
		require.NoError(t, err, "%v", shape)
		assert.Equal(t, DescrFloat64, descr)
		assert.Equal(t, shape, got)
		assert.Len(t, data, 8*prod(shape))
	}
	for _, bad := range []string{
		"{'descr': '<f8', 'fortran_order': False, 'shape': (1000, 1), 'descr': '|u1', 'shape': (8000, 1), }",
		"{'descr': '<f8', 'fortran_order': False, 'shape': (3,), 'extra': 1, }",
		"{'descr': '<f8', 'shape': (3,), }",
		"{'descr': '<f8', 'fortran_order': False, 'shape': (3,), } junk",
		"{'descr': '<f8', 'fortran_order': 0, 'shape': (3,), }",
		"{'descr': '<f\\'8', 'fortran_order': False, 'shape': (3,), }",
		"{'descr': '<f8', 'fortran_order': False, 'shape': (3,,), }",
		"{'descr': '<f8', 'fortran_order': False, 'shape': (-3,), }",
	} {
		_, _, err := parseNpyHeader(bad + "\n")
		assert.Error(t, err, bad)
	}
	_, _, err := parseNpyHeader("{'descr': '<f8', 'fortran_order': True, 'shape': (3,), }")
	assert.ErrorContains(t, err, "fortran-ordered")
}
