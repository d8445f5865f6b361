/* The platform floor of bench section 3: the least a WebKitGTK 4.1 window costs on this machine.
 * One GTK window of the app's size (tauri.conf.json: 1040x720) holding one WebKitWebView that
 * loads a tiny page with webkit_web_view_load_html, then idles in gtk_main until SIGTERM. No
 * settings beyond WebKit's defaults, no Rust, no Tauri: what is left when the app's own code is
 * taken away. The bench compiles it at run time:
 *   gcc -O2 webkit_floor.c $(pkg-config --cflags --libs webkit2gtk-4.1)
 */
#include <gtk/gtk.h>
#include <webkit2/webkit2.h>

static const char *PAGE =
    "<!doctype html><html><head><meta charset=\"utf-8\"><title>floor</title></head>"
    "<body>floor</body></html>";

int main(int argc, char **argv) {
    gtk_init(&argc, &argv);
    GtkWidget *window = gtk_window_new(GTK_WINDOW_TOPLEVEL);
    gtk_window_set_title(GTK_WINDOW(window), "WebKitGTK floor");
    gtk_window_set_default_size(GTK_WINDOW(window), 1040, 720);
    g_signal_connect(window, "destroy", G_CALLBACK(gtk_main_quit), NULL);
    GtkWidget *view = webkit_web_view_new();
    gtk_container_add(GTK_CONTAINER(window), view);
    webkit_web_view_load_html(WEBKIT_WEB_VIEW(view), PAGE, "about:blank");
    gtk_widget_show_all(window);
    gtk_main();
    return 0;
}
