package dsl

import (
	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
)

// CostLimit bounds the runtime cost of one evaluation, so a rule with a runaway
// comprehension stops with an error instead of stalling the engine.
const CostLimit = 100_000

// programOptions are the options a checked expression is planned with. Runtime cost
// tracking is not free (it roughly doubles the cost of a simple rule), so only
// expressions whose static worst case exceeds CostLimit get it: those that iterate over
// lists of unknown size.
func programOptions(env *cel.Env, ast *cel.Ast) []cel.ProgramOption {
	opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
	if est, err := env.EstimateCost(ast, sizeEstimator{}); err != nil || est.Max > CostLimit {
		opts = append(opts, cel.CostLimit(CostLimit))
	}
	return opts
}

// sizeEstimator gives the static cost estimate realistic bounds: strings of at most
// 64 KiB and lists of at most maxListEstimate elements (an email has at most a few
// hundred recipients). A single pass over a list then stays under the limit and runs
// without runtime cost tracking; nested comprehensions (the runaway kind) do not.
type sizeEstimator struct{}

const maxListEstimate = 10_000

func (sizeEstimator) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	if n.Type() == nil {
		return nil
	}
	switch n.Type().Kind() {
	case types.StringKind:
		return &cost.SizeEstimate{Min: 0, Max: 1 << 16}
	case types.ListKind:
		return &cost.SizeEstimate{Min: 0, Max: maxListEstimate}
	}
	return nil
}

func (sizeEstimator) EstimateCallCost(function, overloadID string, target *cost.AstNode, args []cost.AstNode) *cost.CallEstimate {
	return nil
}
