package recstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ringbridge/ringbridge/cti"
)

// S3Config says where the object store is. Endpoint is host[:port]
// without a scheme ("s3.eu-west-1.amazonaws.com", "127.0.0.1:8333");
// Secure selects HTTPS. Keys are Prefix + "<tenant>/<id>.wav".
type S3Config struct {
	Endpoint  string `json:"endpoint"`
	Bucket    string `json:"bucket"`
	Region    string `json:"region"`
	AccessKey string `json:"accessKey"`
	SecretKey string `json:"secretKey"`
	Secure    bool   `json:"secure"`
	Prefix    string `json:"prefix"`
}

// S3 keeps recordings in an S3-compatible bucket.
type S3 struct {
	c      *minio.Client
	bucket string
	prefix string
}

// NewS3 connects to the store (lazily: nothing is sent until first use).
func NewS3(cfg S3Config) (*S3, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, errors.New("recstore: s3 needs an endpoint and a bucket")
	}
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.Secure, Region: cfg.Region,
		// Path-style requests work with every S3-compatible server,
		// including those reached by IP address.
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		return nil, fmt.Errorf("recstore: s3: %w", err)
	}
	return &S3{c: c, bucket: cfg.Bucket, prefix: cfg.Prefix}, nil
}

// EnsureBucket creates the bucket when it does not exist.
func (s *S3) EnsureBucket(ctx context.Context) error {
	ok, err := s.c.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("recstore: s3 bucket %s: %w", s.bucket, err)
	}
	if ok {
		return nil
	}
	if err := s.c.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{}); err != nil {
		return fmt.Errorf("recstore: s3 make bucket %s: %w", s.bucket, err)
	}
	return nil
}

// Name implements cti.RecordingStorage.
func (s *S3) Name() string { return cti.StorageS3 }

// Put implements cti.RecordingStorage.
func (s *S3) Put(ctx context.Context, key, localPath string) error {
	if _, err := s.c.FPutObject(ctx, s.bucket, s.prefix+key, localPath,
		minio.PutObjectOptions{ContentType: cti.RecordingContentType}); err != nil {
		return fmt.Errorf("recstore: s3 put %s: %w", key, err)
	}
	return nil
}

// Open implements cti.RecordingStorage: a ranged GET when off or n ask
// for part of the object.
func (s *S3) Open(ctx context.Context, key string, off, n int64) (io.ReadCloser, int64, error) {
	st, err := s.c.StatObject(ctx, s.bucket, s.prefix+key, minio.StatObjectOptions{})
	if err != nil {
		return nil, 0, s.classify(key, err)
	}
	var opts minio.GetObjectOptions
	switch {
	case n == 0:
		return io.NopCloser(strings.NewReader("")), st.Size, nil
	case n > 0:
		err = opts.SetRange(off, off+n-1)
	case off > 0:
		err = opts.SetRange(off, 0)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("recstore: s3 range: %w", err)
	}
	obj, err := s.c.GetObject(ctx, s.bucket, s.prefix+key, opts)
	if err != nil {
		return nil, 0, s.classify(key, err)
	}
	return obj, st.Size, nil
}

// Delete implements cti.RecordingStorage.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := s.c.RemoveObject(ctx, s.bucket, s.prefix+key, minio.RemoveObjectOptions{}); err != nil {
		if err = s.classify(key, err); cti.ErrorKind(err) == cti.KindNotFound {
			return nil
		}
		return err
	}
	return nil
}

func (s *S3) classify(key string, err error) error {
	if r := minio.ToErrorResponse(err); r.StatusCode == http.StatusNotFound || r.Code == "NoSuchKey" {
		return cti.Errorf(cti.KindNotFound, "no recording object %s", key)
	}
	return fmt.Errorf("recstore: s3 %s: %w", key, err)
}
