// Package rbac holds qgov's roles and permissions: the permission
// vocabulary (IBM's enterprise-governance "job:submit:simulator_only", "job:view:own", …),
// its one mapping onto IBM's Qiskit Runtime action names (current and
// legacy program.*), the predefined role hierarchy (viewer → submitter →
// researcher / team_lead / billing → admin) and custom roles with
// inheritance and limits.
//
// A compiled role is a Set: for every capability the widest scope it is
// held at (own, project, tenant). Checking a request is an array lookup.
package rbac
