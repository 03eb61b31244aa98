//! One fully populated sample event of each type, with a fixed id and ts.
//! Every optional extension is set, so the samples show every key.

use onelive_events::{
    ErrorData, Event, EventData, EventType, LiveData, LiveInfo, LiveInfoChangeData, LiveStatus,
    OffsetDateTime, TestData, Uuid, VideoFileCreateData, VideoFileFinishData,
    VideoTransmuxFinishData,
};

pub(crate) fn live_info(title: &str, category: &str) -> LiveInfo {
    {
        let mut built = LiveInfo::default();
        built.uid = "322892".into();
        built.uname = "某主播".into();
        built.avatar = "https://i0.hdslb.com/bfs/face/a.jpg".into();
        built.title = title.into();
        built.cover = "https://i0.hdslb.com/bfs/live/cover.jpg".into();
        built.categories = vec!["网游".into(), category.into()];
        built.status = LiveStatus::Live;
        built.live_id = Some("1773206558".into());
        built.start_time = Some(OffsetDateTime::from_unix_timestamp(1_773_206_558).unwrap());
        built
    }
}

pub(crate) fn sample(t: EventType) -> Event {
    let session_id = Some(Uuid::from_u128(0x0194_6d2b_7e5c_7a10_8b3e_5f1c_2d3e_4f50));
    let platform = "bilibili".to_owned();
    let channel = "21452505".to_owned();
    let info = live_info("深夜编程 100% {title}", "我的世界");
    let data = match t {
        EventType::AppLaunch => EventData::AppLaunch,
        EventType::AppExit => EventData::AppExit,
        EventType::LiveStart | EventType::LiveEnd => {
            let d = LiveData::new(platform, channel, "https://live.bilibili.com/21452505", info)
                .with_session_id(session_id);
            if t == EventType::LiveStart { EventData::LiveStart(d) } else { EventData::LiveEnd(d) }
        }
        EventType::VideoFileCreate => EventData::VideoFileCreate(
            VideoFileCreateData::new(
                platform,
                channel,
                "/app/rec/bilibili/21452505/2026-03-11_05-22-38_part001.ts",
            )
            .with_session_id(session_id)
            .with_live_info(Some(info)),
        ),
        EventType::VideoFileFinish => EventData::VideoFileFinish(
            VideoFileFinishData::new(
                platform,
                channel,
                "/app/rec/bilibili/21452505/2026-03-11_05-22-38_part001.ts",
                1_073_741_824,
                3600.48,
            )
            .with_session_id(session_id)
            .with_live_info(Some(info))
            .with_danmaku_path(Some(
                "/app/rec/bilibili/21452505/2026-03-11_05-22-38_part001.xml".to_owned(),
            )),
        ),
        EventType::VideoTransmuxFinish => EventData::VideoTransmuxFinish(
            VideoTransmuxFinishData::new(
                platform,
                channel,
                "/app/rec/bilibili/21452505/2026-03-11_05-22-38_part001.ts",
                "/app/rec/bilibili/21452505/2026-03-11_05-22-38_part001.mp4",
            )
            .with_session_id(session_id)
            .with_live_info(Some(info)),
        ),
        EventType::TitleChange | EventType::CategoryChange => {
            let d = LiveInfoChangeData::new(
                platform,
                channel,
                info,
                if t == EventType::TitleChange {
                    live_info("新标题", "我的世界")
                } else {
                    live_info("深夜编程 100% {title}", "原神")
                },
            )
            .with_session_id(session_id);
            if t == EventType::TitleChange {
                EventData::TitleChange(d)
            } else {
                EventData::CategoryChange(d)
            }
        }
        EventType::Error => EventData::Error(
            ErrorData::new(platform, channel, "ffmpeg exited with status 1: Connection refused")
                .with_session_id(session_id),
        ),
        EventType::Test => EventData::Test(TestData::new("test event from onelive")),
        other => panic!("no sample for {other}"),
    };
    Event {
        id: Uuid::parse_str("398ea849-7c4b-45c4-bd2f-093df217266c").unwrap(),
        ts: OffsetDateTime::from_unix_timestamp_nanos(1_773_206_558_393_477_700).unwrap(),
        data,
    }
}
