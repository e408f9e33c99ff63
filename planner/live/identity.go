package live

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Identity reads the caller's identity from STS and checks it against
// allowed, the spec's allowed_account_ids (empty = any account).
//
// It fails closed: with a non-empty allowed, an account outside it and an
// identity that cannot be read are both an *AccountError. Without an
// allow-list an unreadable identity is a *ReadError, since a plan must name
// its account.
func (r *Reader) Identity(ctx context.Context, allowed []string) (Identity, error) {
	out, err := r.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err == nil && aws.ToString(out.Account) == "" {
		err = errors.New("STS returned no account")
	}
	if err != nil {
		if len(allowed) > 0 {
			return Identity{}, &AccountError{Allowed: allowed, Err: err}
		}
		return Identity{}, readError("the caller's AWS identity", "sts:GetCallerIdentity", fmt.Errorf("a plan must name its account: %w", err))
	}
	id := Identity{
		Account: aws.ToString(out.Account),
		ARN:     aws.ToString(out.Arn),
		UserID:  aws.ToString(out.UserId),
	}
	if len(allowed) > 0 && !slices.Contains(allowed, id.Account) {
		return Identity{}, &AccountError{Account: id.Account, Allowed: allowed}
	}
	return id, nil
}
