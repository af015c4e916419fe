package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"mime"
	"net/http"
	"path"

	"github.com/labstack/echo/v4"
)

// adminAssets are the embedded admin page's script and stylesheet.
//
//go:embed assets/admin.js assets/admin.css
var adminAssets embed.FS

// assetVersion changes whenever an asset does: pages link to
// /assets/NAME?v=VERSION, so browsers may cache assets for a year.
var assetVersion = func() string {
	h := sha256.New()
	for _, n := range []string{"assets/admin.js", "assets/admin.css"} {
		b, err := adminAssets.ReadFile(n)
		if err != nil {
			panic(err)
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}()

// asset: GET /assets/*, the admin page's static files.
func (s *Server) asset(c echo.Context) error {
	name := path.Clean("/" + c.Param("*"))
	b, err := adminAssets.ReadFile("assets" + name)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "no such asset")
	}
	h := c.Response().Header()
	if c.QueryParam("v") == assetVersion {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	h.Set("X-Content-Type-Options", "nosniff")
	return c.Blob(http.StatusOK, mime.TypeByExtension(path.Ext(name)), b)
}
